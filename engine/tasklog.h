/*
 * tasklog.h - the public contract of the tasklog engine.
 *
 * tasklog keeps every change to a CRM task as a msgpack event in an
 * append-only log inside an LMDB environment, and folds the log into the
 * current state of each task.  This header is the engine's contract with
 * the other layers (projections/, ingest/, tools/) and with programs; views
 * also use tasklog_view.h, and the queries of the views are in
 * tasklog_projections.h.
 *
 * Conventions:
 *  - Functions return 0 on success or a negative TL_E* code.  When a tl_err
 *    is passed it receives the code, the field at fault and a message that
 *    quotes the bad value.  The library never prints and never exits.
 *  - Handles are opaque.  Option structs are plain; all-zero means defaults.
 *  - Documents (tasks, members, events) are handed out as msgpack maps in the
 *    JSON shapes of the command line's --json output (docs/cli.md, installed
 *    as PREFIX/share/doc/tasklog/cli.md, lists every field; events.md every
 *    event's data); times are msgpack timestamps (ext -1).
 *    Pointers given to callbacks are valid only during the callback.
 *  - Pointer arguments are not NULL unless a function's comment says so
 *    ("when not NULL", "may be NULL", a NULL callback or out-parameter
 *    that is not wanted), as in LMDB; a count given with a NULL array
 *    is TL_EINVALID, naming it (views_len, a command's tags_len and
 *    ids_len, the n of tl_exec, tl_txn_exec, the imports and a rebuild,
 *    each list of a tl_list_query; since 0.3.51 for all but views_len).
 */
#ifndef TASKLOG_H
#define TASKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the shared library exports: the functions of the public headers
 * (the library is built with -fvisibility=hidden). */
#ifndef TL_API
#define TL_API __attribute__((visibility("default")))
#endif

/* This release; the Makefile takes its VERSION from this line. */
#define TL_VERSION "0.3.54"
#define TL_FORMAT_VERSION 1 /* on-disk format, stored in meta */
#define TL_SCHEMA_VERSION 2 /* event schema written by this release */
#define TL_SYSTEM_USER "parsa-assistant"
#define TL_SYSTEM_USER_NAME "Parsa Assistant"

/* Error codes.  The command line exits with -code.  TL_EAGAIN stays the
 * lowest: tl_is_mdb_rc (tasklog_view.h) counts every code below it as
 * LMDB's. */
enum {
	TL_EINVALID = -1,     /* usage or validation error: "invalid" */
	TL_ENOTFOUND = -2,    /* the task/member acted on does not exist */
	TL_ECONFLICT = -3,    /* expected version mismatch, id already used */
	TL_EFORBIDDEN = -4,   /* actor unknown, without CRM access, not admin;
				 root on a directory others may change */
	TL_ESTORAGE = -5,     /* LMDB or file system failure, corrupt data */
	TL_EUNAVAILABLE = -6, /* server not reachable (ingest layer) */
	TL_EAGAIN = -7        /* map full: the txn is aborted (tl_txn_exec:
	                         abort it) and the map grown; rerun it all */
};

/* Receives the details of a failure.  `index` is the position of the
 * failing command in a batch (tl_exec, tl_txn_exec), of the failing record
 * (tl_log_import), or -1.  Read it only after a call failed: a call that
 * succeeds leaves it unspecified (tl_exec and tl_log_import clear it). */
typedef struct tl_err {
	int code;
	int index;
	char field[96];
	char message[320];
} tl_err;

/* The version of the library linked at run time (TL_VERSION is the one
 * compiled against). */
TL_API const char *tl_version(void);

/* "invalid", "not_found", ... for a TL_E* code. */
TL_API const char *tl_code_name(int code);
/* Fill err (may be NULL) and return code. printf-style message. */
TL_API int tl_err_set(tl_err *err, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A byte string that need not be NUL-terminated.  p == NULL: absent. */
typedef struct tl_slice {
	const char *p;
	size_t len;
} tl_slice;

static inline tl_slice tl_s(const char *s)
{
	tl_slice v = { s, 0 };
	if (s)
		while (s[v.len])
			v.len++;
	return v;
}

/* ---- time -------------------------------------------------------------
 * Times are int64 milliseconds since the Unix epoch, UTC. */

/* Parse RFC 3339 (offsets allowed), a date YYYY-MM-DD (midnight in zone
 * `tz`, an IANA name, NULL = UTC), a wall clock time YYYY-MM-DD HH:MM[:SS]
 * ('T' for the space allowed; in zone `tz`: a time the clocks skip is the
 * instant they skip to, a repeated one its first occurrence) or a relative
 * time "+3d", "-2h", "+30m", "+10s", "+1w" from now_ms, taken as given
 * (0 is 1970-01-01, not the clock as in tl_ctx: pass tl_time_now()).
 * Names `field` in err on failure ("tz" for a zone not in the database).  An absent text (p NULL, whatever len says) is invalid
 * (since 0.3.52; a len of 10 or more read through NULL before). */
TL_API int tl_time_parse(tl_slice text, int64_t now_ms, const char *tz,
		  const char *field, int64_t *out, tl_err *err);
/* Format as "2026-12-01T10:00:00.000Z" into buf (at least 32 bytes). */
TL_API void tl_time_format(int64_t ms, char *buf);
/* Format as the wall clock of zone tz (NULL = UTC) with its offset,
 * "2026-12-01T11:00:00.000+01:00" ("...Z" in the zone named "UTC", and
 * where the wall clock would be past year 9999) into buf (at least 40
 * bytes).  An offset with seconds (a few zones before 1972) is written
 * +HH:MM:SS, which RFC 3339 has no form for.  TL_EINVALID for a zone not
 * in the system's database, TL_ESTORAGE when memory ran out reading it
 * (buf then holds the UTC form). */
TL_API int tl_time_format_zone(int64_t ms, const char *tz, char *buf);
/* For people, as tl_time_format_zone but to the minute, or the second
 * when it has seconds, and the offset after a space: "2026-12-01 11:00
 * +01:00", "2026-12-01 10:00:30 UTC" (no suffix in UTC unless
 * utc_suffix), into buf (at least TL_TIME_SHORT_MAX bytes).  Returns
 * what tl_time_format_zone does. */
#define TL_TIME_SHORT_MAX 32
TL_API int tl_time_format_short(int64_t ms, const char *tz, bool utc_suffix,
				char *buf);
/* Two times of a change (a due time from a to b) as tl_time_format_short
 * writes each, or both to the millisecond when they differ but would read
 * the same ("2026-12-01 10:00:30.250 UTC"), into abuf and bbuf (each at
 * least TL_TIME_EXACT_MAX bytes).  Returns what tl_time_format_zone does
 * (TL_ESTORAGE first).  Since 0.3.23. */
#define TL_TIME_EXACT_MAX 40
TL_API int tl_time_format_pair(int64_t a, int64_t b, const char *tz,
			       bool utc_suffix, char *abuf, char *bbuf);
/* Current wall clock in ms. */
TL_API int64_t tl_time_now(void);
/* True when tz names a zone of the system time-zone database (not
 * "localtime", "posixrules", "Factory" or a "right/" zone). */
TL_API bool tl_tz_valid(const char *tz);
/* [start, end) of the local day / week containing t in zone tz;
 * week_start 1 = Monday, 0 = Sunday.
 * Zones are read from the system database's files by tasklog itself and
 * kept for the life of the process, each once whatever its spelling (a
 * run of '/' is one: at most the database's files, a few KB each, since
 * 0.3.54); the process's TZ is never touched,
 * so these are safe beside threads that read local time. */
TL_API int tl_day_range(int64_t t, const char *tz, int64_t *start, int64_t *end);
TL_API int tl_week_range(int64_t t, const char *tz, int week_start, int64_t *start,
		  int64_t *end);

/* ---- text and ids ---------------------------------------------------- */

/* Whether the len bytes at p are well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF; NUL is valid). */
TL_API bool tl_utf8_valid(const char *p, size_t len);
/* Text folded for search (utf8proc): compatibility decomposition, case
 * folding, the accents of Latin, Greek and Cyrillic letters (the combining
 * diacritical marks) dropped, default-ignorable characters dropped,
 * look-alikes lumped (any space to U+0020, dashes to '-', ...), then
 * canonical composition (NFC), as code points into out[0..cap).  Returns
 * their number, or more than cap when out lacks room (out is then not
 * usable: call again with that much room, which is enough), or -1 when s
 * is not UTF-8.  Allocates nothing. */
TL_API ptrdiff_t tl_text_fold(tl_slice s, int32_t *out, size_t cap);
/* Whether folded word[0..wn) occurs in folded text[0..n) at a place
 * where the text does not go on with a combining mark (which would make
 * the word's last letter another one). */
TL_API bool tl_text_holds(const int32_t *text, size_t n, const int32_t *word,
			  size_t wn);
/* Generate a UUIDv7 as 16 bytes, its time now_ms (0 or less: the wall
 * clock; at most 2^48 - 1).  Ids made by one process sort in the order
 * they were made: an earlier now_ms than the last id's keeps the last
 * id's time and counts on, so ids made after one far in the future carry
 * that future time too. */
TL_API void tl_uuid_v7(int64_t now_ms, uint8_t out[16]);
/* Parse canonical UUID text (either case) into 16 bytes. */
TL_API bool tl_uuid_parse(tl_slice text, uint8_t out[16]);
/* Lowercase canonical text, 36 chars + NUL. */
TL_API void tl_uuid_format(const uint8_t id[16], char out[37]);

/* ---- workspace ------------------------------------------------------- */

typedef struct tl_db tl_db;
typedef struct tl_txn tl_txn;
typedef struct tl_view tl_view;

enum tl_open_flags {
	TL_OPEN_CREATE = 1 << 0, /* create the directory if missing */
	TL_OPEN_RDONLY = 1 << 1,
	TL_OPEN_NOSYNC = 1 << 2, /* no fsync at commit: the caller asked */
	/* Read-only (as TL_OPEN_RDONLY) when the workspace's files cannot be
	 * written: no permission, or a read-only file system.  LMDB still
	 * needs write access to lock.mdb (its reader table), except on a
	 * read-only file system.  tl_db_read_only() tells which it got. */
	TL_OPEN_READ_FALLBACK = 1 << 3
};

typedef struct tl_open_opts {
	unsigned flags;
	uint64_t map_size;        /* initial map size, 0 = 64 MiB */
	/* The views kept in the append transaction: tl_views_all() of
	 * tasklog_projections.h for all of them.  NULL: none (the engine
	 * does not know the projections); appends made so leave the views
	 * behind, and the next open with views rebuilds them, as does the
	 * next read or write of a writable handle that stays open with them
	 * (also a view that another release switched to its own version).
	 * At most TL_VIEWS_MAX views of 1..TL_VIEW_DBS_MAX databases each,
	 * none named "ids": a handle with views also keeps the engine's own
	 * (since 0.3.41), the index of task ids by their ends, after them
	 * (given among them, as tl_db_views() lists them, it is taken as
	 * that one). */
	const tl_view *const *views;
	size_t views_len;
} tl_open_opts;
#define TL_VIEWS_MAX 63

/* Any number of processes may open one workspace, each once: LMDB allows
 * one handle per environment and process, so a second tl_db_open of the
 * same directory (under any path) fails with TL_EINVALID "db" while the
 * first is open.  A handle belongs to the process that opened it (LMDB's
 * rule): a child forked after the open opens the workspace itself, and
 * may only close the inherited handle (a child that reads through it and
 * dies mid-read leaves the parent's reads failing).  That close ends none
 * of the parent's transactions and leaves the handle's memory (a copy
 * the parent's threads may have been changing at the fork) to the
 * child's exit (since 0.3.54; before, it aborted a transaction another
 * thread of the parent had open, and the child hung or crashed).  opts->views is
 * copied; the tl_view objects it points to must outlive the handle (the
 * registry's are static).  Run as root (euid 0), it opens only a
 * workspace whose directory is root's and writable by neither its group
 * nor others (else TL_EFORBIDDEN "db": run as the workspace's owner), and
 * reaches it through a descriptor held open, not by name (without /proc,
 * by name: the check alone then stands): whoever else
 * may change the directory could swap links in between a check and
 * LMDB's open, and have root write into any file (since 0.3.54).
 * Unknown flags, TL_OPEN_CREATE with
 * TL_OPEN_RDONLY, a map_size over 64 TiB and views_len without views are
 * TL_EINVALID.  A writable open of a directory that is not a workspace
 * yet creates LMDB's files there (tl_db_initialized() is false); calls
 * then answer TL_ENOTFOUND "db" until tl_db_init (once their arguments
 * pass: a bad argument is said first, as everywhere, so test
 * tl_db_initialized() rather than wait for that code); one whose log holds
 * events but whose settings are gone (damage) answers TL_ESTORAGE, and
 * tl_db_init refuses it.  A dir that does not exist, also a path through
 * a file, is TL_ENOTFOUND "db" (without TL_OPEN_CREATE); a dir that is
 * a file, TL_EINVALID "db".
 * tl_db_close aborts a tl_txn left open (it must not be used after; call
 * it on that transaction's thread, whose LMDB writer lock another thread
 * cannot give back).  LMDB keeps the page buffers of a handle's largest
 * write transaction for reuse until tl_db_close: after a group commit,
 * import, rebuild or verify of many tasks the process holds that
 * transaction's peak (about 240 MB after 100,000 task.add in one group
 * commit with every view, 170 MB after a rebuild of 200,000 tasks); a
 * long-lived process that wants it back closes and reopens the handle.
 * LMDB 0.9.24 also never frees the 1 MiB list of a top-level write
 * transaction that spilled pages (an all-or-nothing import of hundreds
 * of thousands of tasks): that much leaks per such transaction.
 * A handle is used by one thread at a time (adopting a
 * map grown by another process remaps the file, which LMDB allows only
 * with no transaction of this process open); map_size applies to a new
 * workspace, or raises an existing one's stored size.  Open with file
 * descriptors 0, 1 and 2 open (on /dev/null if need be): LMDB's files
 * would otherwise take one of them, and whatever the program prints
 * there would be written into the workspace.  A process that may run
 * under a file size limit (ulimit -f) should ignore SIGXFSZ, as the
 * command line does: a write past the limit then fails as a storage
 * error, where the signal's default action kills the process (the
 * library leaves signals to the program). */
TL_API int tl_db_open(const char *dir, const tl_open_opts *opts, tl_db **out,
	       tl_err *err);
TL_API void tl_db_close(tl_db *db);
/* Whether db was opened read-only (TL_OPEN_RDONLY, or the fallback of
 * TL_OPEN_READ_FALLBACK): writes and rebuilds through it fail with
 * TL_EINVALID "db".  Such a handle cannot bring views up to date: a view
 * of another version than the code's does not serve, nor do any while
 * the views lack events of the log; their queries fail with
 * TL_ESTORAGE (run a rebuild where the workspace can be written). */
TL_API bool tl_db_read_only(const tl_db *db);
/* Whether every view db was opened with is in the code's version and
 * holds the whole log (always true for a writable handle after open, and
 * for a handle opened without views).  From inside a read's callback it
 * cannot read, and answers false, as tl_db_initialized does. */
TL_API bool tl_db_views_current(tl_db *db);
/* True when the workspace holds its settings (made by tl_db_init).  False
 * also when a read fails (and from inside a read's callback, which
 * cannot begin another: not a sign of a new workspace there) or the
 * settings are gone from a damaged workspace: tl_db_settings tells those
 * apart (TL_ENOTFOUND only for a workspace never initialised). */
TL_API bool tl_db_initialized(tl_db *db);

typedef struct tl_init_opts {
	const char *tz;         /* IANA zone, NULL = "UTC" */
	const char *week_start; /* "monday" (default) or "sunday" */
	const char *admin;      /* first admin id, NULL = "admin" */
	int64_t now_ms;         /* 0 = wall clock */
} tl_init_opts;

/* Check tl_db_init's options alone (zone, week start, admin id, and
 * since 0.3.51 now_ms: in the years 1970 to 9999 UTC), before anything
 * is opened or created; TL_EINVALID names the field. */
TL_API int tl_init_check(const tl_init_opts *opts, tl_err *err);

/* Write the meta record, the workspace.initialized event and the first
 * admin, after tl_init_check.  Fails with TL_ECONFLICT when already
 * initialised. */
TL_API int tl_db_init(tl_db *db, const tl_init_opts *opts, tl_err *err);

typedef struct tl_settings {
	char tz[64];
	int week_start; /* 1 Monday, 0 Sunday */
	char admin[65];
} tl_settings;
/* The workspace's settings into *out.  TL_ENOTFOUND "db" when it is not
 * initialised; TL_ESTORAGE when they cannot be read, or are gone while
 * the log holds events (a damaged meta database). */
TL_API int tl_db_settings(tl_db *db, tl_settings *out, tl_err *err);

/* ---- commands -------------------------------------------------------- */

typedef enum tl_cmd_kind {
	TL_TASK_ADD = 1,
	TL_TASK_UPDATE,
	TL_TASK_ASSIGN,   /* assignee, or unassign */
	TL_TASK_STATUS,   /* status */
	TL_TASK_COMPLETE,
	TL_TASK_TAG,      /* tags[0] */
	TL_TASK_UNTAG,    /* tags[0] */
	TL_TASK_DELETE,
	TL_MEMBER_ADD,    /* id, name, role, crm_access */
	TL_MEMBER_UPDATE, /* id, name?, role?, crm_access? */
	TL_NOTIFICATIONS_READ, /* id: member (default the actor), ids: the
				  notifications' ids in decimal text */
	TL_TASK_REOPEN    /* status? (todo, in_progress or on_hold; default
			     todo): a completed or cancelled task gets it,
			     an open one is left as it is */
} tl_cmd_kind;

/* One command.  Text fields are given as the user typed them; the engine
 * validates and parses all of them (times relative to ctx->now_ms). */
typedef struct tl_cmd {
	tl_cmd_kind kind;
	/* Target task or member.  A task: its UUID, or the end of its
	 * 8-4-4-4-12 form as tables print it (at least 6 hex digits, dashes
	 * where the id has them), looked up after the arguments are checked:
	 * TL_ENOTFOUND for none, TL_EINVALID for two or more.  TASK_ADD: an
	 * optional client UUID (whole). */
	tl_slice id;
	tl_slice title, type, status, notes, link, due, assignee;
	tl_slice pipeline, stage;
	bool no_due, unassign;
	const tl_slice *tags;
	size_t tags_len;
	tl_slice name, role;
	int crm_access; /* 0 default/unchanged, 1 grant, -1 revoke (other
			   values: TL_EINVALID "crm_access", since 0.3.51) */
	const tl_slice *ids; /* notification ids */
	size_t ids_len;
	bool has_expect_version; /* task writes only: TL_ECONFLICT when the */
	uint64_t expect_version; /* task is at another version; past
				    INT64_MAX TL_EINVALID (since 0.3.45) */
	tl_slice idempotency_key;
} tl_cmd;

/* Who acts, and when.  actor TL_SYSTEM_USER acts as automations do
 * (events of kind "system"); it holds no tasks, so a query of its own
 * tasks (tl_upcoming, `me`) is TL_EINVALID.  now_ms before the epoch is
 * TL_EINVALID. */
typedef struct tl_ctx {
	const char *actor; /* member id; NULL = the workspace's first admin */
	int64_t now_ms;    /* 0 = wall clock; else in the years 1970 to 9999
	                      (TL_EINVALID, field "now") */
	const char *tz;    /* NULL = workspace zone */
} tl_ctx;

/* The outcome of one command. */
typedef struct tl_result {
	uint64_t seq;  /* last event of this command, or of the first run of
	                  an idempotent replay; 0 when nothing was appended */
	bool appended; /* false for no-op and replay */
	uint8_t *doc;  /* msgpack: the task or member after the command, or
	                  for TL_NOTIFICATIONS_READ {member, ids}; owned by
	                  the result, freed by tl_result_release (never by
	                  free(): the documents of one call share blocks of
	                  64 KiB, each freed with its last result, from any
	                  thread) */
	size_t doc_len;
} tl_result;
TL_API void tl_result_release(tl_result *r);

/* Validate and apply cmds[0..n) in one durable LMDB transaction: all or
 * nothing.  results (n of them, or NULL when not wanted) receive each
 * command's outcome; release each with tl_result_release.  On error
 * err->index names the failing command, nothing is appended and nothing
 * is left in results to release.  (A storage error met while a batch of
 * 64 commands or more stores the events it queued for their hashes names
 * the command at which they were stored, or -1 at the batch's end: such
 * an error is the storage's, not the command's.) */
TL_API int tl_exec(tl_db *db, const tl_ctx *ctx, const tl_cmd *cmds, size_t n,
	    tl_result *results, tl_err *err);

/* Group commit: many independent requests in one LMDB transaction.
 * tl_txn_exec runs one request (itself a batch) in a nested transaction, so
 * a failing request leaves the others intact (its results are released).
 * tl_txn_commit makes them all durable at once and always ends the
 * transaction: txn is invalid after it, whatever it returns; when it fails
 * nothing of the transaction was written, and the results of its requests
 * must be released by the caller.  tl_txn_abort ends it without writing.
 * A transaction is used and ended by the thread that began it (LMDB's
 * writer lock is that thread's): since 0.3.54 tl_txn_exec, tl_txn_import
 * and tl_txn_commit from another thread fail with TL_EINVALID (field
 * "txn") and tl_txn_abort does nothing there, the transaction left as it
 * was for its own thread to end (before, such a commit or abort returned
 * as done and left the lock held: every writer of every process waited
 * while that thread lived).  One whose thread ended with it open is
 * refused to every thread (LMDB's lock passed on at that end): only
 * tl_db_close ends it.
 * A handle has at most one transaction open: tl_txn_begin, tl_exec and the
 * other writes on the same handle, and tl_verify and tl_verify_log, fail
 * with TL_EINVALID (field "txn") meanwhile, instead of waiting for ever
 * for LMDB's writer lock; reads on
 * it (queries, tl_log_read) see the last commit, not the open
 * transaction's events.
 * TL_EAGAIN means the map is full.  From tl_txn_exec: the transaction can
 * take nothing more (tl_txn_exec and tl_txn_commit return TL_EAGAIN on it
 * again); call tl_txn_abort, which grows the map, then begin again and
 * rerun every request.  From tl_txn_commit: the map has been grown and the
 * transaction is gone; begin again and rerun every request. */
TL_API int tl_txn_begin(tl_db *db, tl_txn **out, tl_err *err);
/* Since 0.3.43: before a big transaction, grow the map (doubling it, as
 * a full map does) until bytes more fit past the pages in use, so that
 * the transaction does not fill it and run again (a full map costs a
 * whole rerun of the transaction).  The map is address space: the file
 * grows only with what is written.  Not past 64 TiB; nothing on a
 * read-only handle.  With no transaction of the handle open (else
 * TL_EINVALID "txn"); not from a callback of a write, nor of a read
 * (TL_EINVALID "db"; since 0.3.51, before which a call from a read's
 * callback grew the map under the read, which then crashed);
 * TL_ESTORAGE when the address space is short (the map as it was). */
TL_API int tl_db_reserve(tl_db *db, uint64_t bytes, tl_err *err);
TL_API int tl_txn_exec(tl_txn *txn, const tl_ctx *ctx, const tl_cmd *cmds, size_t n,
		tl_result *results, tl_err *err);
/* Since 0.3.46: the transaction's requests stand or fall together (an
 * import in one transaction): tl_txn_exec and tl_txn_import run them in
 * it directly, not each in a nested transaction, and after one fails the
 * transaction takes nothing more: tl_txn_exec and tl_txn_import answer
 * TL_EINVALID "txn" (call tl_txn_abort then), and tl_txn_commit refuses
 * it with TL_EINVALID "txn" and ends it, as every commit ends its
 * transaction (txn is gone: no tl_txn_abort after it) (since 0.3.51;
 * TL_ESTORAGE before).  LMDB writes a transaction's excess dirty pages to the file as it
 * goes, but a nested one only its own: with many nested ones committed
 * into it, a transaction of about a million tasks ran out of room for
 * its pages (MDB_TXN_FULL, a storage error).  Call it before the first
 * request. */
TL_API void tl_txn_all_or_nothing(tl_txn *txn);
TL_API int tl_txn_commit(tl_txn *txn, tl_err *err);
/* Since 0.3.44: tl_txn_commit telling the views' writes made at the
 * commit, which take most of a large transaction's commit (about 0.8 s of
 * an import of 300,000 tasks; LMDB's page writes and fsync after them,
 * about 0.4 s more): progress (when not NULL) is called with done 0 and
 * the total, in bytes of the views' sorted entries, then at least every
 * MiB, last with done == total once all are made.  Not called when the
 * views have nothing to write (a total of 0), nor after a failure. */
typedef void (*tl_commit_progress_fn)(void *arg, uint64_t done,
				      uint64_t total);
TL_API int tl_txn_commit_progress(tl_txn *txn, tl_commit_progress_fn progress,
				  void *arg, tl_err *err);
TL_API void tl_txn_abort(tl_txn *txn);
/* The events the transaction holds so far: seqs [*first, *end) (equal when
 * none; a failed request's are not among them).  Taken just before
 * tl_txn_commit, it is what a successful commit made durable: the range
 * to announce to subscribers, once committed, never before (views apply
 * events inside the transaction, so they must not announce them). */
TL_API void tl_txn_seqs(const tl_txn *txn, uint64_t *first, uint64_t *end);

/* Whether ctx's actor may run an admin's job: TL_EFORBIDDEN (field "as",
 * "WHAT is for admins") unless it is a member with CRM access and the
 * admin role; TL_EINVALID/TL_ENOTFOUND as any command for an actor that
 * is not one.  For a program that checks before a job of its own, as
 * `tasklog import --events` does before tl_log_import. */
TL_API int tl_need_admin(tl_db *db, const tl_ctx *ctx, const char *what,
		  tl_err *err);

/* Members' access tokens (for the server's auth; engine/token.c).  A
 * token is "tl_" and 64 lowercase hex digits; the workspace keeps only
 * its hash.  tl_member_token makes a new token for member (into token,
 * NUL-terminated), which replaces the one it held, or with revoke drops
 * it (token may then be NULL); *had (when had) says whether it held one.
 * Durable when it returns 0.  ctx's actor must be an admin with CRM
 * access (TL_EFORBIDDEN, field "as"); member an id (TL_EINVALID, field
 * "id"), not the system user (TL_EINVALID), and a member (TL_ENOTFOUND).
 * A member without CRM access may hold one: every request it makes is
 * refused then.  Since 0.3.24. */
#define TL_TOKEN_LEN 67
TL_API int tl_member_token(tl_db *db, const tl_ctx *ctx, tl_slice member,
			   bool revoke, char token[TL_TOKEN_LEN + 1],
			   bool *had, tl_err *err);

/* The member whose token this is, into member (NUL-terminated, at most
 * 64 bytes): TL_EFORBIDDEN (field "token") for text that is no token of
 * this workspace's (never made, replaced or revoked since, or its
 * records damaged: verify names them); TL_ESTORAGE when the member's
 * own record cannot be read (since 0.3.27). */
TL_API int tl_token_member(tl_db *db, tl_slice token, char member[65],
			   tl_err *err);

/* Append event records made elsewhere (another workspace's log, an older
 * release's log), each as stored: a msgpack map with its hash.  Record i
 * must carry the next seq, chain to the previous hash and carry its
 * stream's next version; it is stored byte for byte and folded into the
 * states and views.  It must also be one the commands could have made
 * (docs/cli.md, import --events: its id a lowercase UUIDv7 since 0.3.18,
 * field "id").  All or nothing, in one transaction; err->index names the
 * failing record. */
TL_API int tl_log_import(tl_db *db, const uint8_t *const *recs, const size_t *lens,
		  size_t n, tl_err *err);
/* Each event has an id of its own: tl_log_import and tl_txn_import
 * refuse a record whose id an earlier record of the same call holds
 * (TL_EINVALID, field "id", err->index naming it).  A program that
 * imports one input in several calls (`tasklog import --events
 * --batch`) checks the whole input first with this: 0, or that error for
 * the first such record of recs, or TL_ESTORAGE when out of memory.
 * Records that are no events are left to the import, which refuses
 * them.  (An id of an event stored before the call is not looked for:
 * that would read the whole log; `tl_verify` reports it.) */
TL_API int tl_import_ids_check(const uint8_t *const *recs,
			       const size_t *lens, size_t n, tl_err *err);
/* The same as one request of a group commit: records appended in a
 * transaction nested in txn (see tl_txn_exec), so that a failing call
 * leaves txn as it was; err->index names the failing record.  TL_EAGAIN:
 * as from tl_txn_exec. */
TL_API int tl_txn_import(tl_txn *txn, const uint8_t *const *recs,
		  const size_t *lens, size_t n, tl_err *err);

/* ---- reading --------------------------------------------------------- */

/* A decoded event.  Slices point into the stored record. */
typedef struct tl_event {
	uint64_t seq;
	char id[37];
	tl_slice type, stream;
	uint32_t version;
	int64_t at_ms;
	tl_slice actor_id, actor_kind;
	uint32_t schema;      /* as stored; data below is upcast to current */
	const uint8_t *data;  /* msgpack map */
	size_t data_len;
	uint8_t hash[32];
	const uint8_t *raw;   /* the stored msgpack map, hash included
				 (in a view's apply(): tasklog_view.h) */
	size_t raw_len;
} tl_event;

/* Return non-zero to stop the iteration (returned to the caller as it is,
 * err untouched: a negative value is the callback's, not the library's,
 * unless it returns one of the TL_E* codes on purpose).  The
 * event and the documents are valid during the call only.  A callback
 * runs inside a read transaction of the handle: it must not start another
 * read through the same handle (LMDB gives a thread one at a time; such a
 * call fails with TL_EINVALID "db"), nor write through it (a write could
 * grow the map, which remaps the file under the read: tl_txn_begin,
 * tl_exec and tl_log_import fail with TL_EINVALID "db" since 0.3.19),
 * nor close the handle. */
typedef int (*tl_event_fn)(void *arg, const tl_event *ev);
typedef int (*tl_doc_fn)(void *arg, const uint8_t *doc, size_t len);

/* Events with seq >= from, at most limit (0 = all); when stream.p is set,
 * only that stream's events (stream is a task id or its end as for
 * tl_cmd.id, "member:ID" or "workspace"). */
TL_API int tl_log_read(tl_db *db, const tl_ctx *ctx, uint64_t from, size_t limit,
		tl_slice stream, tl_event_fn fn, void *arg, tl_err *err);

/* The current task (deleted tasks too, with "deleted": true) into *doc,
 * *len: malloc'd, the caller free()s it.  id as for tl_cmd.id. */
TL_API int tl_task_get(tl_db *db, const tl_ctx *ctx, tl_slice id, uint8_t **doc,
		size_t *len, tl_err *err);
/* The task as it was at as_of_ms (malloc'd, the caller free()s it):
 * its stream folded up to its last version made at or before that time,
 * every version before that one included, whatever its time says (times
 * need not grow with versions: --now, a clock set back; a version made
 * by then was appended after those before it), so the state is one the
 * task had, and its "version" counts the events folded.  TL_ENOTFOUND
 * when it did not exist yet (no version made by then). */
TL_API int tl_task_as_of(tl_db *db, const tl_ctx *ctx, tl_slice id,
		  int64_t as_of_ms, uint8_t **doc, size_t *len, tl_err *err);

/* Every member, the system user first, through fn; a member document by
 * id into *doc (malloc'd, the caller free()s it), "me" the acting
 * member's: an unknown member is TL_ENOTFOUND "id", a text that is no
 * member id TL_EINVALID "id" (since 0.3.51; TL_ENOTFOUND before). */
TL_API int tl_member_list(tl_db *db, const tl_ctx *ctx, tl_doc_fn fn, void *arg,
		   tl_err *err);
/* A page of that list: at most limit members (0: 50; more than
 * TL_MEMBER_PAGE_MAX is TL_EINVALID, field "limit") after the one that
 * cursor names ('m' and a member id, as next_cursor was given; empty: the
 * first page); next_cursor gets the next page's cursor when more members
 * follow, else "".  The page goes on by id, so members added meanwhile
 * are listed where their id sorts.  A cursor of another shape is
 * TL_EINVALID, field "cursor" (since 0.3.42). */
#define TL_MEMBER_CURSOR 'm'
#define TL_MEMBER_CURSOR_MAX 66 /* 'm', an id of up to 64 bytes, NUL */
#define TL_MEMBER_PAGE_DEFAULT 50
#define TL_MEMBER_PAGE_MAX 1000
TL_API int tl_member_page(tl_db *db, const tl_ctx *ctx, size_t limit,
			  tl_slice cursor, tl_doc_fn fn, void *arg,
			  char next_cursor[TL_MEMBER_CURSOR_MAX], tl_err *err);
TL_API int tl_member_get(tl_db *db, const tl_ctx *ctx, tl_slice id, uint8_t **doc,
		  size_t *len, tl_err *err);

typedef struct tl_stats {
	uint64_t events;
	uint64_t tasks;     /* not deleted */
	uint64_t active;    /* todo, in_progress, on_hold, not deleted */
	uint64_t members;
	uint64_t last_seq;
	uint64_t map_size, map_used;
} tl_stats;
/* Counts of the workspace into *out, for an actor with CRM access. */
TL_API int tl_db_stats(tl_db *db, const tl_ctx *ctx, tl_stats *out, tl_err *err);
/* The size of the data file, and how much of it is free pages (LMDB's
 * free list, and the file past its last page in use): the space that a
 * compacting backup (TL_BACKUP_COMPACT) leaves out.  For an actor with
 * CRM access. */
TL_API int tl_db_space(tl_db *db, const tl_ctx *ctx, uint64_t *file_bytes,
		       uint64_t *free_bytes, tl_err *err);

/* Idempotency keys (engine/idem.c, since 0.3.47).  A workspace keeps each
 * key's record until it is pruned.  tl_idem_keys counts them (for an actor
 * with CRM access).  tl_idem_prune forgets the keys of requests made
 * before before_ms (an admin's job): a retry under such a key then runs as
 * a new request.  A request's time is that of the last event its first
 * run appended; one that changed nothing was made after its target's
 * last event then and before its next event, and is kept while its
 * target has none (its time is unknown: *out counts it in unknown when
 * that last event is before the cutoff).  With check it removes nothing
 * and counts what it would, also on a read-only handle.  The records are
 * read in durable transactions of 10,000, so other writers wait for one
 * at the most; appends nothing to the log.  TL_EINVALID (field "before")
 * for a time outside the years 1970 to 9999, or (field "db") on a
 * read-only handle without check; TL_ESTORAGE naming the key of a
 * damaged record, after the transactions before its own. */
typedef struct tl_prune_out {
	uint64_t keys;    /* records read */
	uint64_t pruned;  /* removed (with check: that would be) */
	uint64_t unknown; /* kept: of requests that changed nothing, whose
			     target has changed nothing since */
} tl_prune_out;
TL_API int tl_idem_keys(tl_db *db, const tl_ctx *ctx, uint64_t *keys,
			tl_err *err);
TL_API int tl_idem_prune(tl_db *db, const tl_ctx *ctx, int64_t before_ms,
			 bool check, tl_prune_out *out, tl_err *err);

/* Check the hash chain, seq contiguity, stream versions, that the stored
 * task states equal a fresh fold of the log, and every view.  Each
 * problem is passed to fn as a line of text.  Returns the number of
 * problems found (>= 0) or a negative code (which may come after problems
 * already passed to fn: verify stopped part-way).  A handle opened
 * TL_OPEN_RDONLY cannot build the views it compares with: each view is
 * then a problem ("not compared (read-only): ..."), so that 0 always
 * means that everything was checked. */
typedef void (*tl_problem_fn)(void *arg, const char *problem);
TL_API int tl_verify(tl_db *db, const tl_ctx *ctx, tl_problem_fn fn, void *arg,
	      tl_err *err);
/* tl_verify without the views: the log, task states, members, counts,
 * idempotency records and settings; for a read-only handle too.  Returns
 * the number of problems (>= 0) or a negative code, as tl_verify. */
TL_API int tl_verify_log(tl_db *db, const tl_ctx *ctx, tl_problem_fn fn,
			 void *arg, tl_err *err);

/* Where a verify is, for a progress bar: step of steps (7 with the
 * views: the file's pages, the hash chain, the stream index, the task
 * states (with members, idempotency records and counts), rebuilding the
 * views: reading the log, rebuilding the views: writing them (in
 * "bytes", told as tl_rebuild_step's step 2 is, from when their total is
 * known; since 0.3.43, which split the rebuild's step in two), comparing
 * the views; the first 4 without them or on a read-only handle; then
 * with TL_VERIFY_REPLAY one more, replaying the log, in "events": 8 or
 * 5), what that step checks, and done of total in unit ("pages",
 * "events", "bytes", "entries", "tasks").  Each step is told first with
 * done 0 and last with done == total, more often between (the rebuild's
 * total grows when events are appended meanwhile).  A rebuild that
 * starts over in a grown map tells steps 5 to 7 again, from lower
 * counts; a handle without views has the first 4 steps only.
 * A step that stops at problems (the views are not compared when the
 * file's pages are damaged) is not told. */
typedef struct tl_verify_step {
	int step, steps;
	const char *what;
	const char *unit;
	uint64_t done, total;
} tl_verify_step;
/* Called from inside verify's transactions: it must not call the
 * library on this workspace. */
typedef void (*tl_verify_progress_fn)(void *arg, const tl_verify_step *s);
enum tl_verify_flags {
	TL_VERIFY_NO_VIEWS = 1 << 0, /* as tl_verify_log */
	/* Since 0.3.28: when every other step found nothing, a last one
	 * imports the log again into a new workspace in a temporary
	 * directory ($TMPDIR, else /tmp; removed at once) through every check
	 * of import --events, those that need the state each event met
	 * (an assignee who was no member or lacked CRM access then, a
	 * change whose `previous` is not what the task held) included; the
	 * first event refused is a problem.  One step more (7 with the
	 * views, 5 without).  Since 0.3.29 the directory is removed as soon
	 * as the copy is open (its files live on, nameless, until the
	 * replay closes them): a process killed meanwhile leaves nothing. */
	TL_VERIFY_REPLAY = 1 << 1
};
/* tl_verify (tl_verify_log with TL_VERIFY_NO_VIEWS), telling progress
 * (when not NULL) where it is. */
TL_API int tl_verify_progress(tl_db *db, const tl_ctx *ctx, unsigned flags,
			      tl_problem_fn fn, void *arg,
			      tl_verify_progress_fn progress,
			      void *progress_arg, tl_err *err);

/* ---- backup ------------------------------------------------------------ */

enum tl_backup_flags {
	/* Leave out free pages (LMDB's compacting copy): the copy is as
	 * small as its data.  It walks every B-tree instead of copying the
	 * file page by page. */
	TL_BACKUP_COMPACT = 1 << 0
};

typedef struct tl_backup_info {
	uint64_t events;   /* in the copy */
	uint64_t last_seq; /* the seq of its last event */
	uint64_t bytes;    /* the size of its data.mdb */
} tl_backup_info;

/* Copy the workspace, as of one commit, into dir, which must be new (its
 * parent existing) or an empty directory; writers of any process go on
 * meanwhile (a plain copy waits for a write transaction in progress to
 * read the meta pages).  The copy is written to dir/data.mdb.partial,
 * fsync'd, then renamed to dir/data.mdb, and dir (and its parent, when
 * this call made dir) fsync'd: dir/data.mdb is always a whole copy.  dir
 * is then a workspace that tl_db_open opens, holding data.mdb alone; its
 * views are those of the commit copied.  The copy is as open as the
 * workspace, never more (since 0.3.54): dir when this call makes it, and
 * dir/data.mdb, take the permission bits of the workspace's directory
 * and data.mdb (into a dir that was there, data.mdb's narrowed by the
 * umask), its group where the caller may give it (else no bits for the
 * group), and its owner when root makes them; until the copy is whole
 * and read back both are the caller's alone.  Root copies only into a
 * new dir or one of root's that neither group nor others may change
 * (else TL_EFORBIDDEN "dir", nothing made).  On failure before the rename
 * the partial file (and dir, when this call made it) is removed; one
 * after it says that the copy is whole, and leaves it.  A directory that
 * exists and is not empty, or whose parent is missing, is TL_EINVALID
 * "dir"; a write that fails is TL_ESTORAGE; a call from a rebuild's
 * progress callback made inside its write transaction is TL_EINVALID
 * "db".  Admins only (TL_EFORBIDDEN "as"; a dir that is a file or
 * whose parent is missing is found before that, since 0.3.51).  *out
 * (may be NULL): what the copy holds, read back from it. */
TL_API int tl_db_backup(tl_db *db, const tl_ctx *ctx, const char *dir,
			unsigned flags, tl_backup_info *out, tl_err *err);

/* ---- projections -------------------------------------------------------- */

/* Progress of a long operation: done of total events.  A rebuild reports
 * done == total when it has read the log, then sorts and writes the
 * views, and reports done == total again when it has switched to them.
 * The callback may read through the same handle, and write when done ==
 * total; a write from the other calls (made inside the rebuild's write
 * transaction), a rebuild or a verify fails with TL_EINVALID "db". */
typedef void (*tl_progress_fn)(void *arg, uint64_t done, uint64_t total);
/* Since 0.3.44: tl_db_backup telling its progress in bytes of the copy:
 * progress (when not NULL) is called with done 0 and the size the copy
 * is expected to reach (the pages in use; for a compact copy less the
 * free ones, an estimate), then with the copy's size so far (never the
 * total), and last, once the copy is in place under its name and synced,
 * with its size as done and total (reading the copy back may still fail
 * after: the copy is whole then).  Nothing after a failure.  The calls
 * while LMDB writes come from a thread of the library's, one at a time:
 * such a call must not use db (tl_db_reserve refuses, TL_EINVALID "db",
 * and the map is not grown meanwhile), nor anything the caller's thread
 * changes meanwhile. */
TL_API int tl_db_backup_progress(tl_db *db, const tl_ctx *ctx,
				 const char *dir, unsigned flags,
				 tl_progress_fn progress, void *arg,
				 tl_backup_info *out, tl_err *err);

/* Since 0.3.43: a rebuild's progress in two steps, for a bar with a rate
 * and an ETA all the way (tl_progress_fn's calls stop at the end of the
 * log, and the writes that follow take most of a big rebuild).  Step 1
 * of 2, "reading the log", in "events": told first with done 0 (an
 * open: before it waits for another process's build, which may leave
 * nothing to do: then no other call), then done of the log's head now
 * and then, last with done == total once the log is read.  Step 2,
 * "writing the views", in "bytes": the bytes of the views' sorted
 * entries written, of those to write; told once every view that loads
 * from the tasks' final states has begun to and given an estimate
 * (since 0.3.53; before, a load the second thread had taken but not yet
 * begun counted as the few bytes its view held, and a total told then
 * grew later, by 40 % in a test) (a
 * second or so into the writes at a million tasks: the first call's
 * done may be more than 0), the total estimated while loads run (it may
 * move a little, never below done) and exact once they are done; then
 * every megabyte or so, and last with done == total once the new views
 * serve.  A rebuild that starts over in a grown map tells step 1 again,
 * from lower counts.  The callback may read through the same handle; a
 * write, a rebuild or a verify from it fails with TL_EINVALID "db",
 * except from step 1's last call (the log read, between two
 * transactions: a write goes in, and the rebuild applies it too) and
 * step 2's (all done). */
typedef struct tl_rebuild_step {
	int step, steps;
	const char *what;
	const char *unit;
	uint64_t done, total;
} tl_rebuild_step;
typedef void (*tl_rebuild_progress_fn)(void *arg, const tl_rebuild_step *s);

/* tl_db_open, telling progress (when not NULL) how a rebuild of views
 * that the open runs goes (views of another version than the code's, or
 * behind the log): a first call (0, head of the log) when the open finds
 * views to rebuild, before it waits for another process's build of them
 * (which may leave nothing to rebuild: then no other call), then as for
 * tl_rebuild (lower again if it starts over in a grown map).  No call
 * when no view needs it (nearly every open).  The callback has no handle
 * yet: it must not call the library on this workspace.  For a command
 * line's "rebuilding the views" bar: after an upgrade that changes a
 * view, the first open rebuilds it from the log, which takes seconds to
 * minutes on a big workspace. */
TL_API int tl_db_open_progress(const char *dir, const tl_open_opts *opts,
			       tl_progress_fn progress, void *arg,
			       tl_db **out, tl_err *err);
/* tl_db_open_progress telling a rebuild's steps (tl_rebuild_step); the
 * callback has no handle yet, as there. */
TL_API int tl_db_open_steps(const char *dir, const tl_open_opts *opts,
			    tl_rebuild_progress_fn progress, void *arg,
			    tl_db **out, tl_err *err);

/* Rebuild the named views (all when n == 0) from the log into a new
 * generation while the old one keeps serving, then switch atomically.
 * No side effect is re-run.  Admins only.  The first call through a
 * handle whose open rebuilt views (tl_db_open_progress) leaves those out
 * when no event has been appended since: they are what it would make. */
TL_API int tl_rebuild(tl_db *db, const tl_ctx *ctx, const char *const *names,
	       size_t n, tl_progress_fn progress, void *arg, tl_err *err);
/* tl_rebuild telling its steps (tl_rebuild_step) to progress when not
 * NULL. */
TL_API int tl_rebuild_steps(tl_db *db, const tl_ctx *ctx,
			    const char *const *names, size_t n,
			    tl_rebuild_progress_fn progress, void *arg,
			    tl_err *err);

#ifdef __cplusplus
}
#endif
#endif
