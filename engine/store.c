/*
 * store.c - the LMDB environment of a workspace: opening, the meta record,
 * write transactions with map growth, and the append of events.
 *
 * On-disk format (format version 1).  One LMDB environment in the
 * workspace directory (data.mdb, lock.mdb) with these named databases:
 *
 *   events   key: seq, 8-byte big-endian (1, 2, 3... gap-free)
 *            val: the event record, a msgpack map of 10 keys in this order:
 *                 seq, id, type, stream, version, at, actor {id, kind},
 *                 schema, data, hash.  Times are msgpack timestamps.
 *                 hash is bin 32: BLAKE2b-256(prev_hash || canonical),
 *                 where canonical is the same record without its hash
 *                 entry and with a 9-entry map header (0x89 followed by
 *                 the record's bytes 1 .. len-39).  prev_hash of seq 1 is
 *                 32 zero bytes.  Appended with MDB_APPEND.
 *   streams  DUPSORT|DUPFIXED.  key: 'T' + 16-byte task id, or 'S' +
 *            stream text ("member:ID", "workspace").  val: 12 bytes,
 *            version (4, BE) + seq (8, BE); versions are 1, 2, 3...
 *            (Task ids by their ends: the engine's own view, ids.c.)
 *   tasks    key: 16-byte task id.  val: the task document (msgpack map,
 *            the JSON shape of INTERFACE.md plus "deleted", "created_seq").
 *   idem     key: idempotency key bytes.  val: seq (8, BE) of the first
 *            run's last event + 'F' + the request's 16-byte fingerprint
 *            (since 0.3.0; absent in older records) + the stream key of
 *            its target.  A first run that changed nothing: its
 *            target's last event then + 'N' (since 0.3.3) + the same.
 *   members  key: member id.  val: member document {id, name, role,
 *            crm_access, kind}.
 *   meta     "format" -> u32 BE; "tz", "week_start", "admin" -> text;
 *            "view:NAME" -> version u32 BE + generation u32 BE.
 *   tokens   (since 0.3.24, made by the first token: token.c) 'h' +
 *            BLAKE2b-256 of a token -> member id; 'm' + member id ->
 *            that hash.  Not a fold of the log: tokens are secrets.
 *
 * and in LMDB's main database, beside the names of these, the plain key
 * "tl.counts" (since 0.3.16; "task counts" below).
 *
 * Invariants: events is the only source of truth; every other database is
 * a fold of it written in the same transaction as the event (but idem's
 * keys and the tokens, which are requests' and members' secrets).  A full map
 * aborts the whole transaction, grows the map and reruns (tl_exec).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

#define DEFAULT_MAP (64ull << 20)
#define TL_RESERVE_MAX ((uint64_t)1 << 46) /* 64 TiB, as map_size */

/* Workspaces open in this process, by their directory's device and inode.
 * LMDB must not open one environment twice in a process: closing either
 * copy drops the process's locks on lock.mdb, and another process could
 * then take the environment for unused and reset its reader table.  A
 * child after fork() has none of its parent's handles (pid differs). */
pthread_mutex_t tl_open_mu = PTHREAD_MUTEX_INITIALIZER; /* proc.c */
static tl_db *open_list;

static int open_register(tl_db *db, const struct stat *st, tl_err *err)
{
	int rc = 0;
	db->dev = st->st_dev;
	db->ino = st->st_ino;
	db->pid = getpid();
	pthread_mutex_lock(&tl_open_mu);
	for (tl_db *o = open_list; o && !rc; o = o->next_open)
		if (o->dev == db->dev && o->ino == db->ino && o->pid == db->pid)
			rc = tl_err_set(err, TL_EINVALID, "db",
					"workspace '%s' is already open in this process: use that handle (LMDB allows one per process)",
					db->dir);
	if (!rc) {
		db->next_open = open_list;
		open_list = db;
	}
	pthread_mutex_unlock(&tl_open_mu);
	return rc;
}

static void open_unregister(tl_db *db)
{
	pthread_mutex_lock(&tl_open_mu);
	for (tl_db **p = &open_list; *p; p = &(*p)->next_open)
		if (*p == db) {
			*p = db->next_open;
			break;
		}
	pthread_mutex_unlock(&tl_open_mu);
}

int tl_mdb_err(tl_err *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		return tl_err_set(err, TL_EAGAIN, "storage",
				  "%s: map full", what);
	if (rc == ENOMEM)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: out of memory", what);
	/* LMDB gives a thread one read transaction at a time: a second one
	 * is a call made from inside a read's callback, not damage. */
	if (rc == MDB_BAD_RSLOT)
		return tl_err_set(err, TL_EINVALID, "db",
				  "%s: a read of this handle is already open "
				  "in this thread (a call from inside a "
				  "callback, or a forked child that used this handle?)",
				  what);
	if (rc == TL_MDB_STALE_TABLE)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: LMDB's table of readers (lock.mdb) is "
				  "behind the data file's last commit (an open "
				  "that failed can leave it so), and a write now "
				  "would lose commits: nothing was written; "
				  "stop every process that has the workspace "
				  "open, and the next open sets the table "
				  "anew", what);
	/* tl_env_begin waited for a slot in vain. */
	if (rc == MDB_READERS_FULL)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: the workspace's table of readers stayed "
				  "full for %.1f s (each process that has the "
				  "workspace open and has read takes one of "
				  "its slots, %u or as many as the process "
				  "that made lock.mdb set): retry when fewer "
				  "processes have it open",
				  what, tl_readers_wait_ms / 1000.0,
				  tl_max_readers);
	/* A write that wrote nothing on a full disk: said as plainly as the
	 * short write below, which is what a disk that fills up in the
	 * middle of a write gives. */
	if (rc == ENOSPC || rc == EDQUOT)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: %s (the disk%s is full: free some "
				  "space, then retry)",
				  what, strerror(rc),
				  rc == EDQUOT ? " quota" : "");
	/* A write that starts at the process's file size limit: EFBIG
	 * (where SIGXFSZ is ignored, as the CLI does; its default action
	 * kills the process). */
	if (rc == EFBIG)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: %s (" TL_EFBIG_HINT ")", what,
				  strerror(rc));
	/* LMDB turns a short write (a full disk, a file size limit) into
	 * EIO: say what it may be. */
	if (rc == EIO) {
		struct rlimit fs;
		if (getrlimit(RLIMIT_FSIZE, &fs) == 0 &&
		    fs.rlim_cur != RLIM_INFINITY)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "%s: input/output error (a read or "
					  "write failed, or a write fell "
					  "short: is the disk full or failing, "
					  "or the file at this process's file "
					  "size limit, %llu bytes: ulimit -f?)",
					  what, (unsigned long long)fs.rlim_cur);
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: input/output error (a read or write "
				  "failed, or a write fell short: is the disk "
				  "full or failing?)",
				  what);
	}
	/* LMDB checks the magic of both files: which one, it does not say.
	 * lock.mdb is rebuilt by the next open once no process holds it. */
	if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: %s (data.mdb is not a workspace's "
				  "file, or lock.mdb is damaged: with no "
				  "process holding the workspace open, the "
				  "next open rebuilds lock.mdb)",
				  what, mdb_strerror(rc));
	/* What LMDB says when a page it reads is not what its B-tree needs:
	 * the file was damaged (LMDB keeps no checksums to say more). */
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
	    rc == MDB_CURSOR_FULL)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "%s: %s (the data file is damaged: restore "
				  "data.mdb from a copy)",
				  what, mdb_strerror(rc));
	return tl_err_set(err, TL_ESTORAGE, "storage", "%s: %s", what,
			  mdb_strerror(rc));
}

static int open_dbis_as(tl_db *db, bool rdonly, tl_err *err)
{
	MDB_txn *txn;
	unsigned c = rdonly ? 0 : MDB_CREATE;
	int rc = tl_env_begin(db, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return tl_mdb_err(err, rc, "begin");
	struct {
		const char *name;
		unsigned flags;
		MDB_dbi *dbi;
	} t[] = {
		{ "events", c, &db->events },
		{ "streams", c | MDB_DUPSORT | MDB_DUPFIXED, &db->streams },
		{ "tasks", c, &db->tasks },
		{ "idem", c, &db->idem },
		{ "members", c, &db->members },
		{ "meta", c, &db->meta },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		rc = tl_dbi_open(txn, t[i].name, t[i].flags, t[i].dbi);
		if (rc == MDB_NOTFOUND) {
			/* A new file's main database is empty.  One that
			 * holds entries but not this one was damaged (a
			 * flipped bit in the root its meta page names):
			 * creating the databases anew would commit over the
			 * older meta page, the last whole copy of the tree,
			 * and an init would start a new log over the old. */
			MDB_stat ms = { 0 };
			MDB_dbi main_db;
			bool fresh = mdb_dbi_open(txn, NULL, 0, &main_db) == 0 &&
				     mdb_stat(txn, main_db, &ms) == 0 &&
				     ms.ms_entries == 0;
			mdb_txn_abort(txn);
			if (!fresh)
				return tl_err_set(err, TL_ESTORAGE, "storage",
						  "open database '%s': the "
						  "main database holds %zu "
						  "entries but not this "
						  "database "
						  "(the data file is damaged: "
						  "copy data.mdb as it is for "
						  "evidence, and restore it "
						  "from a backup)",
						  t[i].name,
						  (size_t)ms.ms_entries);
			return tl_err_set(err, TL_ENOTFOUND, "db",
					  "workspace '%s' is not initialised (run tasklog init)",
					  db->dir);
		}
		if (rc) {
			mdb_txn_abort(txn);
			return tl_mdb_err(err, rc, "open database");
		}
	}
	if ((rc = mdb_dbi_open(txn, NULL, 0, &db->main))) {
		mdb_txn_abort(txn);
		return tl_mdb_err(err, rc, "open database");
	}
	rc = mdb_txn_commit(txn);
	return rc ? tl_mdb_err(err, rc, "commit") : 0;
}

/* Open the engine's databases.  When they all exist (every open but the
 * first), in a read transaction: an open never waits for a writer. */
static int open_dbis(tl_db *db, tl_err *err)
{
	int rc = open_dbis_as(db, true, err);
	if (rc == TL_ENOTFOUND && !(db->flags & TL_OPEN_RDONLY))
		rc = open_dbis_as(db, false, err);
	return rc;
}

/* Create and open db->env (an LMDB code; on failure db->env is NULL).
 * map_size 0: the size stored in the file. */
static int env_open(tl_db *db, const char *dir, unsigned flags,
		    uint64_t map_size)
{
	int rc = mdb_env_create(&db->env);
	if (rc) {
		db->env = NULL;
		return rc;
	}
	/* LMDB's table of named databases: the log's own (under 32) and up
	 * to three generations of each view's open at once (the serving one,
	 * the one a rebuild or verify builds, and one another process
	 * switched away from, closed after the switch's commit). */
	size_t view_dbs = 0;
	for (size_t i = 0; i < db->views_len; i++)
		if (db->views[i])
			view_dbs += db->views[i]->dbs_len > TL_VIEW_DBS_MAX
					    ? TL_VIEW_DBS_MAX
					    : db->views[i]->dbs_len;
	size_t maxdbs = 32 + 3 * (db->views_len > 64 ? 0 : view_dbs);
	mdb_env_set_maxdbs(db->env, (MDB_dbi)(maxdbs < 128 ? 128 : maxdbs));
	mdb_env_set_maxreaders(db->env, tl_max_readers);
	if (map_size)
		mdb_env_set_mapsize(db->env, map_size);
	rc = mdb_env_open(db->env, dir, flags, 0666);
	if (rc) {
		mdb_env_close(db->env);
		db->env = NULL;
	}
	return rc;
}

/* The mode of a lock.mdb beside data.mdb, owned by owner, of data.mdb's
 * group when group: readable and writable by its owner, by the group
 * where data.mdb's group may read, and by others where they may read
 * data.mdb and lock.mdb's owner is not data.mdb's (who may then be one of
 * the others).  LMDB needs lock.mdb writable by every process, readers
 * included; made by LMDB under the usual umask it is writable by its maker
 * alone, and a writer's shuts the auditors of data.mdb's group out, an
 * auditor's the writers. */
static mode_t lock_mode(const struct stat *data, uid_t owner, bool group)
{
	mode_t mode = 0600;
	if (group && (data->st_mode & S_IRGRP))
		mode |= 0060;
	if (owner != data->st_uid && (data->st_mode & S_IROTH))
		mode |= 0006;
	return mode;
}

/* lock.mdb, when this open is the one to make it beside an existing
 * data.mdb: made here, before LMDB opens it, of lock_mode() and data.mdb's
 * group (root gives it data.mdb's owner too).  An existing lock.mdb is
 * left as it is, and a failure is not said: a directory that takes no
 * file is LMDB's to report, and a mode or group not set leaves the file
 * as LMDB would have made it, or narrower.  No lock of this process is on
 * the file yet (one handle per workspace and process), so closing this
 * descriptor drops none of LMDB's. */
static void lock_make(const char *dir, const struct stat *data)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return;
	uid_t owner = geteuid();
	bool group;
	if (owner == 0 && fchown(fd, data->st_uid, data->st_gid) == 0) {
		owner = data->st_uid;
		group = true;
	} else {
		group = fchown(fd, (uid_t)-1, data->st_gid) == 0 ||
			getegid() == data->st_gid;
	}
	(void)fchmod(fd, lock_mode(data, owner, group));
	close(fd);
}

bool tl_fd_path(int fd, const struct stat *st, char out[TL_FD_PATH_MAX])
{
	struct stat ps;
	snprintf(out, TL_FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return stat(out, &ps) == 0 && ps.st_dev == st->st_dev &&
	       ps.st_ino == st->st_ino;
}

bool tl_root_alone(const struct stat *st)
{
	return st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* A new workspace's lock.mdb, which LMDB made with data.mdb under the
 * umask: given lock_mode() when this process made it, through an O_PATH
 * descriptor checked first (its close drops none of LMDB's locks on the
 * file, as a plain descriptor's would), by /proc/self/fd (without /proc,
 * not at all).  Until 0.3.54 by its name after an lstat: a link swapped
 * in between had the mode given to the file it named. */
static void lock_made(const char *dir)
{
	char path[PATH_MAX + 16];
	struct stat data, lock;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	if (stat(path, &data) != 0)
		return;
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &lock) == 0 && S_ISREG(lock.st_mode) &&
	    lock.st_uid == geteuid()) {
		mode_t mode = lock_mode(&data, lock.st_uid,
					lock.st_gid == data.st_gid);
		char p[TL_FD_PATH_MAX];
		/* without /proc, by its name, as before 0.3.54 */
		if ((lock.st_mode & 07777) != mode)
			(void)chmod(tl_fd_path(fd, &lock, p) ? p : path, mode);
	}
	close(fd);
}

static void db_free(tl_db *db)
{
	if (db->dirfd >= 0)
		close(db->dirfd);
	free((void *)db->views);
	free(db);
}

/*
 * A workspace opened by root.  LMDB and tasklog reach its files by name
 * (data.mdb, lock.mdb, build.lock, sorted runs), and LMDB writes its
 * lock table into lock.mdb and commit headers into data.mdb: whoever may
 * change the directory's entries can swap a link in between a check and
 * an open, and have root write into any file (a race won in 13 runs of
 * `stats`), or read another workspace through a data.mdb linked to it.
 * So root opens only a directory that root alone may change: its own,
 * writable by neither group nor others (TL_EFORBIDDEN "db" otherwise:
 * run as the workspace's owner), and reaches it through a descriptor
 * held open ("/proc/self/fd/N"), so that a parent directory another user
 * may change cannot move another one in its place either (without
 * /proc, by its name).  Other users are not checked: a group sharing a
 * directory trusts its members, who may remove its files anyway.
 * (Since 0.3.54; before, root opened any workspace by name.)
 */
static int root_dir(tl_db *db, const char *dir, tl_err *err)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return 0; /* the open that follows says what is wrong */
	}
	if (st.st_uid != 0) {
		close(fd);
		return tl_err_set(err, TL_EFORBIDDEN, "db",
				  "workspace '%s' is another user's "
				  "directory: as root, tasklog would let them "
				  "direct root's writes to any file; run it as "
				  "the workspace's owner (uid %lu: sudo -u or "
				  "runuser -u)",
				  dir, (unsigned long)st.st_uid);
	}
	if (!tl_root_alone(&st)) {
		close(fd);
		return tl_err_set(err, TL_EFORBIDDEN, "db",
				  "workspace '%s' is a directory %s may "
				  "change: as root, tasklog would let them "
				  "direct root's writes to any file; make it "
				  "root's alone (chmod go-w), or run as a "
				  "user who shares it",
				  dir,
				  (st.st_mode & S_IWOTH) ? "others" : "its group");
	}
	char p[TL_FD_PATH_MAX];
	if (tl_fd_path(fd, &st, p)) {
		db->dirfd = fd;
		snprintf(db->fsdir, sizeof db->fsdir, "%s", p);
	} else {
		close(fd);
	}
	return 0;
}

/* mdb_extra: more flags for LMDB's environment (MDB_NOLOCK alone, from
 * tl_db_open_private). */
static int db_open(const char *dir, const char *shown,
		   const tl_open_opts *opts, const build_progress *prog,
		   unsigned mdb_extra, tl_db **out, tl_err *err)
{
	static const tl_open_opts none;
	if (!opts)
		opts = &none;
	if (!dir || !*dir || strlen(dir) >= PATH_MAX - 16)
		return tl_err_set(err, TL_EINVALID, "db", "bad workspace path");
	/* Misuse is refused before anything is made. */
	if (opts->flags & ~(unsigned)(TL_OPEN_CREATE | TL_OPEN_RDONLY |
				      TL_OPEN_NOSYNC | TL_OPEN_READ_FALLBACK))
		return tl_err_set(err, TL_EINVALID, "flags",
				  "unknown flags 0x%x", opts->flags);
	if ((opts->flags & TL_OPEN_CREATE) && (opts->flags & TL_OPEN_RDONLY))
		return tl_err_set(err, TL_EINVALID, "flags",
				  "TL_OPEN_CREATE with TL_OPEN_RDONLY: a "
				  "read-only handle creates nothing");
	if (opts->map_size > ((uint64_t)1 << 46)) /* 64 TiB */
		return tl_err_set(err, TL_EINVALID, "map_size",
				  "%llu bytes is more than 64 TiB",
				  (unsigned long long)opts->map_size);
	if (opts->views_len && !opts->views)
		return tl_err_set(err, TL_EINVALID, "views",
				  "views_len %zu without views",
				  opts->views_len);
	/* The engine's own view given back (a list from tl_db_views of
	 * another handle): taken as the one the engine adds anyway. */
	size_t given = 0;
	for (size_t i = 0; i < opts->views_len && given <= TL_VIEWS_MAX; i++)
		given += opts->views[i] != &tl_view_ids;
	if (given > TL_VIEWS_MAX)
		return tl_err_set(err, TL_EINVALID, "views",
				  "%zu views: at most %d (the engine keeps "
				  "one of its own beside them, ids)",
				  opts->views_len, TL_VIEWS_MAX);
	if (!tl_proc_init())
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "libsodium failed to initialise");

	struct stat st;
	if (stat(dir, &st) != 0) {
		/* A path through a file (ENOTDIR) names no workspace
		 * either; init cannot make it (as any mkdir that fails). */
		bool absent = errno == ENOENT ||
			      (errno == ENOTDIR &&
			       !(opts->flags & TL_OPEN_CREATE));
		if (errno != ENOENT || !(opts->flags & TL_OPEN_CREATE))
			return tl_err_set(err, absent ? TL_ENOTFOUND
						      : TL_ESTORAGE,
					  "db", "workspace '%s': %s", dir,
					  strerror(errno));
		/* EEXIST: another process made it meanwhile (two inits).
		 * Root's is its own alone (root_dir), whatever the umask. */
		if (mkdir(dir, geteuid() == 0 ? 0755 : 0777) != 0 &&
		    (errno != EEXIST || stat(dir, &st) != 0 ||
		     !S_ISDIR(st.st_mode)))
			return tl_err_set(err, TL_ESTORAGE, "db",
					  "cannot create '%s': %s", dir,
					  strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		return tl_err_set(err, TL_EINVALID, "db",
				  "'%s' is not a directory", dir);
	}
	if (stat(dir, &st) != 0)
		return tl_err_set(err, TL_ESTORAGE, "db", "workspace '%s': %s",
				  dir, strerror(errno));

	/* The views given, and the engine's own after them (ids.c): a
	 * handle with views keeps them all; one without keeps none. */
	size_t nviews = opts->views_len ? given + 1 : 0;
	tl_db *db = calloc(1, sizeof *db);
	const tl_view **views = nviews ? malloc(nviews * sizeof *views) : NULL;
	if (!db || (nviews && !views)) {
		free(db);
		free(views);
		return tl_err_oom(err);
	}
	snprintf(db->dir, sizeof db->dir, "%s", shown ? shown : dir);
	snprintf(db->fsdir, sizeof db->fsdir, "%s", dir);
	db->dirfd = -1;
	if (geteuid() == 0) {
		int rrc = root_dir(db, dir, err);
		if (rrc) {
			free(views);
			free(db);
			return rrc;
		}
	}
	/* Its files, from here on, through fs. */
	const char *fs = db->fsdir;
	db->flags = opts->flags;
	if (prog)
		db->open_prog = *prog;
	/* A copy: the caller's array need not outlive the call. */
	if (nviews) {
		size_t n = 0;
		for (size_t i = 0; i < opts->views_len; i++)
			if (opts->views[i] != &tl_view_ids)
				views[n++] = opts->views[i];
		views[n] = &tl_view_ids;
	}
	db->views = views;
	db->views_len = nviews;
	int rc = open_register(db, &st, err);
	if (rc) {
		db_free(db);
		return rc;
	}

	unsigned envflags = MDB_NORDAHEAD;
	if (opts->flags & TL_OPEN_RDONLY)
		envflags |= MDB_RDONLY;
	if (opts->flags & TL_OPEN_NOSYNC)
		envflags |= MDB_NOSYNC;
	/* A new workspace starts at DEFAULT_MAP (or the size asked for).  An
	 * existing one keeps the size stored in its file, which grows with
	 * it: setting a smaller one would make LMDB map just the pages in use,
	 * so that every process's first write found the map full. */
	char path[PATH_MAX + 16], said[PATH_MAX + 16]; /* reached, told */
	snprintf(path, sizeof path, "%s/data.mdb", fs);
	snprintf(said, sizeof said, "%s/data.mdb", db->dir);
	/* A link to a file is the operator's (data on another disk); a link
	 * to nothing would have LMDB create the file it names (since 0.3.54
	 * refused, as lock.mdb's links are). */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    stat(path, &st) != 0 && errno == ENOENT) {
		open_unregister(db);
		db_free(db);
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "'%s' is a link to nothing: LMDB would "
				  "create the file it names; remove it",
				  said);
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* LMDB would open it: a FIFO there blocks the open for ever,
		 * a device maps what it is. */
		open_unregister(db);
		db_free(db);
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "'%s' is not a regular file", said);
	}
	bool exists = stat(path, &st) == 0 && st.st_size > 0;
	/* A data.mdb this process may not write is not opened for writing:
	 * LMDB would fail on it after it set up lock.mdb, and when no other
	 * process had the workspace open, that set-up leaves the table's last
	 * commit at 0 for whoever opens it meanwhile: their reads then take
	 * meta page 0, a commit behind the other perhaps, and a write built
	 * on it would lose commits (tl_env_begin refuses it).  A reader that
	 * may fall back opens it read-only at once; a writer fails as LMDB
	 * would have. */
	int denied = 0;
	if (exists && !(envflags & MDB_RDONLY)) {
		/* Tried, as LMDB will open it (access(2) answers for the
		 * permission bits alone, and some sandboxes refuse its
		 * faccessat2 with EPERM).  The locks LMDB takes are on
		 * lock.mdb, which this descriptor's close leaves alone. */
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno == EACCES || errno == EPERM || errno == EROFS)
			denied = errno;
	}
	if (denied && (opts->flags & TL_OPEN_READ_FALLBACK)) {
		db->flags |= TL_OPEN_RDONLY;
		envflags |= MDB_RDONLY;
		denied = 0;
	}
	/* lock.mdb shared as data.mdb is, when this open makes it. */
	snprintf(path, sizeof path, "%s/lock.mdb", fs);
	snprintf(said, sizeof said, "%s/lock.mdb", db->dir);
	struct stat lst;
	int lrc = lstat(path, &lst);
	bool lock_new = lrc != 0 && errno == ENOENT;
	/* LMDB opens lock.mdb with O_CREAT, following a link, and the first
	 * process to open a workspace writes its table into it: a link
	 * planted there (a directory shared by a group, whose members may
	 * replace its files) made that process, root's perhaps, overwrite
	 * the file linked to (until 0.3.54).  LMDB never makes one. */
	if (!lrc && !(mdb_extra & MDB_NOLOCK) && !S_ISREG(lst.st_mode)) {
		open_unregister(db);
		db_free(db);
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "'%s' is not a regular file (a link?): "
				  "LMDB would write its lock table through "
				  "it; remove it", said);
	}
	snprintf(path, sizeof path, "%s/data.mdb", fs);
	if (mdb_extra & MDB_NOLOCK)
		lock_new = false; /* none is made */
	envflags |= mdb_extra;
	if (exists && lock_new && !denied)
		lock_make(fs, &st);
	rc = denied ? denied
		    : env_open(db, fs, envflags,
			       exists ? 0
			       : opts->map_size ? opts->map_size
						: DEFAULT_MAP);
	if ((rc == EACCES || rc == EPERM || rc == EROFS) && exists &&
	    !(envflags & MDB_RDONLY) &&
	    (opts->flags & TL_OPEN_READ_FALLBACK)) {
		db->flags |= TL_OPEN_RDONLY;
		rc = env_open(db, fs, envflags | MDB_RDONLY, 0);
	}
	if (!rc && !exists && lock_new)
		lock_made(fs);
	if (!rc && exists && opts->map_size) {
		MDB_envinfo info;
		mdb_env_info(db->env, &info);
		if (info.me_mapsize < opts->map_size)
			rc = tl_env_resize(db, opts->map_size);
	}
	if (rc) {
		/* Which file: LMDB needs its reader table lock.mdb writable
		 * (or the directory, to make it) even to read. */
		int code = rc == EACCES || rc == EPERM
				   ? tl_err_set(err, TL_ESTORAGE, "storage",
						"open workspace: %s (reading "
						"needs data.mdb readable and "
						"lock.mdb writable, or the "
						"directory writable to make "
						"it; writing needs both "
						"writable)",
						strerror(rc))
				   : tl_mdb_err(err, rc, "open workspace");
		if (db->env)
			mdb_env_close(db->env);
		open_unregister(db);
		db_free(db);
		return code;
	}
	/* Reader slots of processes that died (kill -9) would pin old pages
	 * and let the file grow: free them. */
	int dead;
	mdb_reader_check(db->env, &dead);
	MDB_stat ms;
	db->psize = mdb_env_stat(db->env, &ms) ? 0 : ms.ms_psize;
	rc = tl_pages_roots_check(db, err);
	if (!rc)
		rc = open_dbis(db, err);
	if (!rc)
		rc = tl_views_open(db, err);
	if (rc) {
		tl_db_close(db);
		return rc;
	}
	db->open_prog = (build_progress){ 0 }; /* for the open only */
	*out = db;
	return 0;
}

int tl_db_open_private(const char *dir, const char *shown, tl_db **out,
		       tl_err *err)
{
	tl_open_opts oo = { .flags = TL_OPEN_RDONLY };
	return db_open(dir, shown, &oo, NULL, MDB_NOLOCK, out, err);
}

int tl_db_open(const char *dir, const tl_open_opts *opts, tl_db **out,
	       tl_err *err)
{
	return db_open(dir, NULL, opts, NULL, 0, out, err);
}

int tl_db_open_progress(const char *dir, const tl_open_opts *opts,
			tl_progress_fn progress, void *arg, tl_db **out,
			tl_err *err)
{
	build_progress p = { progress, NULL, arg };
	return db_open(dir, NULL, opts, &p, 0, out, err);
}

int tl_db_open_steps(const char *dir, const tl_open_opts *opts,
		     tl_rebuild_progress_fn progress, void *arg, tl_db **out,
		     tl_err *err)
{
	tl_steps st = { progress, arg, { 0 } };
	build_progress p = tl_steps_progress(&st);
	return db_open(dir, NULL, opts, &p, 0, out, err);
}

bool tl_db_read_only(const tl_db *db)
{
	return db->flags & TL_OPEN_RDONLY;
}

static void txn_abort(tl_txn *t);

void tl_db_close(tl_db *db)
{
	if (!db)
		return;
	/* A child of fork() closing the handle it inherited: the parent's
	 * transactions are not its to end.  A write transaction another
	 * thread of the parent had open (a batch's hash chain waiting on a
	 * thread the child does not have, LMDB's pages in mid-change) made
	 * the child hang or free memory twice, and its kept read transaction
	 * is a slot of the parent's in LMDB's shared table, which an abort
	 * here marked unused under the parent's read (until 0.3.54).  So the
	 * child closes LMDB's environment alone (LMDB clears the reader
	 * slots of the calling process only) and leaves the rest of the
	 * copy's memory, which the parent's threads may have been changing,
	 * where it is. */
	if (db->pid != getpid()) {
		mdb_env_close(db->env);
		if (db->dirfd >= 0)
			close(db->dirfd);
		open_unregister(db);
		return;
	}
	if (db->txn) /* one left open: nothing of it is kept (its writer */
		txn_abort(db->txn); /* lock freed only on its thread) */
	if (db->probe)
		mdb_txn_abort(db->probe);
	mdb_env_close(db->env);
	tl_views_close(db);
	open_unregister(db);
	db_free(db);
}

/*
 * Resize the map of an open environment (size 0: adopt the size another
 * process stored).  LMDB unmaps, then maps at the new size; when that
 * mapping fails (address space: ulimit -v) it is left with no map at all,
 * and the next transaction would crash.  So map the file at the new size
 * first, beside the current map (more than LMDB will need): when that
 * fails, fail with ENOMEM and leave the environment as it was.  The size
 * another process stored (size 0) is not known here, so that case is not
 * probed.  Should LMDB's own mapping fail, the handle is marked lost and
 * refuses every transaction (ENOMEM; reopen the workspace) instead of
 * crashing.
 */
int tl_env_resize(tl_db *db, size_t size)
{
	int fd, rc;

	if (db->map_lost)
		return ENOMEM;
	/* a backup's progress callback, while LMDB's copy reads the map */
	if (atomic_load(&db->copying) && !tl_backup_adopting)
		return EBUSY;
	if (size && mdb_env_get_fd(db->env, &fd) == 0) {
		void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return errno;
		munmap(p, size);
	}
	rc = mdb_env_set_mapsize(db->env, size);
	if (rc && rc != EINVAL) /* EINVAL: a transaction open, nothing done */
		db->map_lost = true;
	return rc;
}

int tl_db_grow(tl_db *db, tl_err *err)
{
	MDB_envinfo info;
	if (db->map_lost) /* LMDB's info would read the unmapped metas */
		return tl_mdb_err(err, ENOMEM, "grow map");
	mdb_env_info(db->env, &info);
	size_t next = info.me_mapsize * 2;
	int rc = tl_env_resize(db, next);
	if (rc)
		return tl_mdb_err(err, rc, "grow map");
	return 0;
}

uint64_t tl_map_used(tl_db *db)
{
	MDB_envinfo info;
	MDB_stat st;
	if (db->map_lost || mdb_env_info(db->env, &info) ||
	    mdb_env_stat(db->env, &st))
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

int tl_map_room(tl_db *db, uint64_t bytes)
{
	MDB_envinfo info;
	int rc;
	if (db->map_lost)
		return ENOMEM;
	if ((rc = mdb_env_info(db->env, &info)))
		return rc;
	uint64_t used = tl_map_used(db);
	uint64_t size = info.me_mapsize;
	/* doubled as a full map is; past TL_RESERVE_MAX, left to that */
	while (size - used < bytes && size * 2 <= TL_RESERVE_MAX)
		size *= 2;
	return size == info.me_mapsize ? 0 : tl_env_resize(db, (size_t)size);
}

static int no_read_held(tl_db *db, tl_err *err);

int tl_db_reserve(tl_db *db, uint64_t bytes, tl_err *err)
{
	int rc;
	if (atomic_load(&db->copying))
		return tl_err_set(err, TL_EINVALID, "db",
				  "not from a backup's progress callback "
				  "(the copy reads the map)");
	/* Nor from a read's callback: growing the map remaps the file
	 * under the read (before 0.3.51 it did, and the read crashed). */
	if ((rc = tl_no_txn_open(db, err)) ||
	    (rc = tl_no_writer_held(db, err)) || (rc = no_read_held(db, err)))
		return rc;
	if (db->flags & TL_OPEN_RDONLY)
		return 0; /* nothing to write */
	if ((rc = tl_map_room(db, bytes)))
		return tl_mdb_err(err, rc, "grow map");
	return 0;
}

size_t tl_db_map_size(tl_db *db)
{
	MDB_envinfo info;
	if (db->map_lost)
		return 0;
	mdb_env_info(db->env, &info);
	return info.me_mapsize;
}

int tl_db_grow_from(tl_db *db, size_t before, tl_err *err)
{
	if (!db->map_lost && tl_db_map_size(db) > before)
		return 0; /* grown already (tl_txn_abort, tl_txn_commit) */
	return tl_db_grow(db, err);
}

int tl_meta_get(tl_db *db, MDB_txn *txn, const char *key, MDB_val *val)
{
	MDB_val k = { strlen(key), (void *)key };
	return mdb_get(txn, db->meta, &k, val);
}

static int meta_put(tl_db *db, MDB_txn *txn, const char *key,
		    const void *v, size_t len)
{
	MDB_val k = { strlen(key), (void *)key }, d = { len, (void *)v };
	return mdb_put(txn, db->meta, &k, &d, 0);
}

/* Begin a top-level transaction, adopting a map that another process grew
 * (LMDB says MDB_MAP_RESIZED once the data passed this process's map).
 * Every top-level transaction of the engine begins here.  Adopting the
 * size remaps the file, which LMDB allows only with no transaction of this
 * process open: a tl_db handle is used by one thread at a time, and its
 * helper threads (the rebuild's) never hold one across a begin here. */
unsigned tl_max_readers = 1024;
unsigned tl_readers_wait_ms = 10000;

int tl_env_begin(tl_db *db, unsigned flags, MDB_txn **txn)
{
	if (db->map_lost)
		return ENOMEM;
	int rc = mdb_txn_begin(db->env, NULL, flags, txn);
	/* A map another process grew: adopted.  Every slot of the table of
	 * readers taken: a process holds one from its first read until it
	 * closes the workspace (a writer that waits for LMDB's writer lock
	 * too), so hundreds of commands at once can fill it; the slots of
	 * dead processes are freed, then a slot waited for, as a writer
	 * waits for the writer lock: 1 ms, doubling to 64.  Either may
	 * follow the other. */
	int resizes = 0;
	unsigned waited = 0, ms = 1;
	while ((rc == MDB_MAP_RESIZED && resizes < 8) ||
	       (rc == MDB_READERS_FULL && waited < tl_readers_wait_ms)) {
		if (rc == MDB_MAP_RESIZED) {
			resizes++;
			if ((rc = tl_env_resize(db, 0)))
				break;
		} else {
			int dead = 0;
			mdb_reader_check(db->env, &dead);
			if (dead) {
				waited++; /* bounded, should others take them */
			} else {
				struct timespec ts = { 0, (long)ms * 1000000 };
				nanosleep(&ts, NULL);
				waited += ms;
				ms = ms < 64 ? 2 * ms : 64;
			}
		}
		rc = mdb_txn_begin(db->env, NULL, flags, txn);
	}
	/* A write transaction holds the writer lock: the table's last
	 * commit and the meta pages are still, and it must be numbered the
	 * one after the newest meta page's. */
	MDB_envinfo info;
	if (!rc && !(flags & MDB_RDONLY) && !mdb_env_info(db->env, &info) &&
	    (uint64_t)mdb_txn_id(*txn) != (uint64_t)info.me_last_txnid + 1) {
		mdb_txn_abort(*txn);
		*txn = NULL;
		rc = TL_MDB_STALE_TABLE;
	}
	return rc;
}

void tl_writer_yield(void)
{
	/* 1 ms: long enough for a waiter woken by the commit's unlock to be
	 * scheduled and take the lock; 1/100 or less of a chunk. */
	struct timespec ts = { 0, 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Begin a read transaction. */
int tl_read_begin(tl_db *db, MDB_txn **txn, tl_err *err)
{
	int rc = tl_env_begin(db, MDB_RDONLY, txn);
	return rc ? tl_mdb_err(err, rc, "begin read") : 0;
}

bool tl_db_initialized(tl_db *db)
{
	MDB_txn *txn;
	MDB_val v;
	if (tl_read_begin(db, &txn, NULL))
		return false;
	bool ok = tl_meta_get(db, txn, "format", &v) == 0;
	mdb_txn_abort(txn);
	return ok;
}

/* meta holds no settings: 0 when the log is empty too (a workspace never
 * initialised); a log with events means a damaged meta database, which
 * neither a read nor an init may take for a new workspace. */
static int no_settings(tl_db *db, MDB_txn *txn, tl_err *err)
{
	MDB_stat st;
	int rc = mdb_stat(txn, db->events, &st);
	if (rc)
		return tl_mdb_err(err, rc, "read the log");
	if (st.ms_entries)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "workspace '%s' holds a log of %zu events "
				  "but no settings: its meta database is "
				  "damaged (restore data.mdb from a copy)",
				  db->dir, st.ms_entries);
	return 0;
}

int tl_db_settings(tl_db *db, tl_settings *out, tl_err *err)
{
	MDB_txn *txn;
	MDB_val v;
	int rc = tl_read_begin(db, &txn, err);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	strcpy(out->tz, "UTC");
	out->week_start = 1;
	rc = tl_meta_get(db, txn, "format", &v);
	if (rc) {
		rc = rc == MDB_NOTFOUND ? no_settings(db, txn, err)
					: tl_mdb_err(err, rc, "read settings");
		mdb_txn_abort(txn);
		if (rc)
			return rc;
		return tl_err_set(err, TL_ENOTFOUND, "db",
				  "workspace '%s' is not initialised (run tasklog init)",
				  db->dir);
	}
	if (tl_meta_get(db, txn, "tz", &v) == 0 && v.mv_size < sizeof out->tz)
		snprintf(out->tz, sizeof out->tz, "%.*s", (int)v.mv_size,
			 (char *)v.mv_data);
	if (tl_meta_get(db, txn, "week_start", &v) == 0)
		out->week_start = !(v.mv_size == 6 &&
				    memcmp(v.mv_data, "sunday", 6) == 0);
	if (tl_meta_get(db, txn, "admin", &v) == 0 &&
	    v.mv_size < sizeof out->admin)
		snprintf(out->admin, sizeof out->admin, "%.*s",
			 (int)v.mv_size, (char *)v.mv_data);
	mdb_txn_abort(txn);
	return 0;
}

/* ---- write transactions ------------------------------------------- */

int tl_no_txn_open(tl_db *db, tl_err *err)
{
	if (!db->txn_open)
		return 0;
	return tl_err_set(err, TL_EINVALID, "txn",
			  "a write transaction of this handle is open: commit or abort it first");
}

int tl_no_writer_held(tl_db *db, tl_err *err)
{
	if (!db->writer_held)
		return 0;
	return tl_err_set(err, TL_EINVALID, "db",
			  "a rebuild of this handle holds the write "
			  "transaction (called from its progress callback)");
}

/* A write begun while this thread holds a read of the handle (a call from
 * a read's callback) could grow the map, or adopt one another process
 * grew: LMDB remaps the file then, refusing only while a write
 * transaction is open, and the read's cursor and the event or document
 * handed to the callback would point into unmapped memory.  LMDB gives a
 * thread one read transaction at a time: a probe refused with
 * MDB_BAD_RSLOT says that this thread holds one.  Other failures of the
 * probe are left to the begin that follows. */
static int no_read_held(tl_db *db, tl_err *err)
{
	if (db->map_lost)
		return 0; /* no map to read: tl_env_begin says so */
	/* The probe is kept reset and renewed, which makes the same check
	 * of the thread's slot as a begin without allocating LMDB's read
	 * transaction (about 6 KiB zeroed, a quarter of the CPU that a
	 * lone task.add adds to its commit). */
	int rc = db->probe ? mdb_txn_renew(db->probe)
			   : mdb_txn_begin(db->env, NULL, MDB_RDONLY,
					   &db->probe);
	if (rc == 0) {
		mdb_txn_reset(db->probe);
	} else if (db->probe && rc != MDB_BAD_RSLOT) {
		mdb_txn_abort(db->probe); /* made again at the next write */
		db->probe = NULL;
	}
	if (rc != MDB_BAD_RSLOT)
		return 0;
	return tl_err_set(err, TL_EINVALID, "db",
			  "a read of this handle is open in this thread: "
			  "no write from inside its callback (or a "
			  "forked child that used this handle?)");
}

int tl_txn_begin(tl_db *db, tl_txn **out, tl_err *err)
{
	if (db->flags & TL_OPEN_RDONLY)
		return tl_err_set(err, TL_EINVALID, "db",
				  "workspace opened read-only");
	int rc = tl_no_txn_open(db, err);
	if (rc || (rc = tl_no_writer_held(db, err)) ||
	    (rc = no_read_held(db, err)))
		return rc;
	tl_txn *t = calloc(1, sizeof *t);
	if (!t)
		return tl_err_oom(err);
	t->db = db;
	t->owner = tl_thread_id();
	for (int tries = 0;; tries++) {
		rc = tl_env_begin(db, 0, &t->txn);
		if (rc) {
			free(t);
			return tl_mdb_err(err, rc, "begin");
		}
		/* Another process may have switched a view's generation. */
		bool stale = false;
		tl_views_check(db, t->txn, false, &stale);
		if (!stale)
			break;
		mdb_txn_abort(t->txn);
		if (tries == 3) {
			free(t);
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "views switched by rebuilds, or left behind by appends without them, in other processes again and again; try again");
		}
		if ((rc = tl_views_sync(db, err))) {
			free(t);
			return rc;
		}
	}
	t->cur = t->txn;
	rc = tl_log_head(db, t->txn, &t->next_seq, t->prev_hash, err);
	if (rc) {
		mdb_txn_abort(t->txn);
		free(t);
		return rc;
	}
	if (!msgpack_zone_init(&t->zone, 4096)) {
		mdb_txn_abort(t->txn);
		free(t);
		return tl_err_oom(err);
	}
	t->next_seq++;
	t->first_seq = t->next_seq;
	msgpack_sbuffer_init(&t->ev);
	msgpack_sbuffer_init(&t->doc);
	msgpack_sbuffer_init(&t->data);
	db->txn_open = true;
	db->txn = t;
	*out = t;
	return 0;
}

static void txn_free(tl_txn *t)
{
	tl_chain_discard(t); /* run_cmds ends it: none left here */
	t->db->txn_open = false;
	t->db->txn = NULL;
	msgpack_sbuffer_destroy(&t->ev);
	msgpack_sbuffer_destroy(&t->doc);
	msgpack_sbuffer_destroy(&t->data);
	msgpack_zone_destroy(&t->zone);
	free(t);
}

/*
 * A write transaction is its thread's: LMDB's writer lock (a mutex of the
 * lock file, shared by every process) belongs to the thread that began
 * it, and unlocking it from another thread fails, silently in LMDB.  A
 * commit or abort made by another thread returned as if done and left
 * the lock held for as long as the first thread lived: every writer of
 * every process then waited for ever (until 0.3.54).  Such calls are
 * refused now, and the transaction is left as it was, for its thread to
 * end; LMDB asks the same of its own transactions.  A thread is told by a
 * number of its own (tl_thread_id), not by its pthread_t, which a thread
 * started later may get again: a transaction left open by a thread that
 * ended (LMDB's lock then passes to the next writer as its owner's
 * death) was committed by the next thread with that pthread_t, over the
 * commits other processes made meanwhile.  Such a transaction is
 * refused to every thread; tl_db_close ends it.
 */
uint64_t tl_thread_id(void)
{
	static atomic_uint_fast64_t last;
	static _Thread_local uint64_t mine;
	if (!mine)
		mine = (uint64_t)atomic_fetch_add(&last, 1) + 1;
	return mine;
}

int tl_txn_on_its_thread(const tl_txn *t, tl_err *err)
{
	if (t->owner == tl_thread_id())
		return 0;
	return tl_err_set(err, TL_EINVALID, "txn",
			  "the transaction was begun by another thread: "
			  "use and end it there (LMDB's writer lock is "
			  "that thread's)");
}

/* tl_txn_abort's work, from whatever thread: tl_db_close's too. */
static void txn_abort(tl_txn *t)
{
	tl_db *db = t->db;
	bool grow = t->need_grow;
	/* While the write lock is held: the next writer's are its own. */
	tl_views_defer_reset(db);
	mdb_txn_abort(t->txn);
	txn_free(t);
	if (grow)
		tl_db_grow(db, NULL);
}

void tl_txn_abort(tl_txn *t)
{
	if (t && !tl_txn_on_its_thread(t, NULL))
		txn_abort(t);
}

/* ---- task counts ------------------------------------------------------
 * "tl.counts" in LMDB's main database (since 0.3.16) = tasks not deleted
 * (u64 BE) + of those active (u64 BE) + the seq of the log's last event
 * they count (u64 BE), kept by every write txn from its deltas so that
 * stats need no scan.  Counts stored at another seq are stale (a release
 * before 0.3.16 appended since: it keeps them in meta "counts", 16 bytes,
 * which are then used, and which a commit of this release deletes).
 * Every commit that appends stores them, changed or not, at its last
 * seq (init's too).  A workspace with neither (one from before the
 * counts): its first commit counts by scanning the tasks db, and stats
 * scans until then. */

void tl_counts_note(tl_txn *t, const tl_task *before, const tl_task *after)
{
	bool was = before && !before->deleted, now = !after->deleted;
	t->d_tasks += (int64_t)now - (int64_t)was;
	t->d_active += (int64_t)(now && tl_status_active(after->status)) -
		       (int64_t)(was && tl_status_active(before->status));
}

/* The key of the counts in LMDB's main database (since 0.3.16): a plain
 * key beside the names of the databases, in the page every commit
 * rewrites anyway, so that keeping them writes no page of their own. */
#define COUNTS_KEY "tl.counts"

/* The counts as of the log up to seq `at`: those of the main database
 * when they were stored at `at`; else meta "counts", which releases
 * before 0.3.16 keep (one of them wrote last; a release that stores the
 * main database's deletes them); else none. */
static bool counts_at(tl_db *db, MDB_txn *txn, uint64_t at, uint64_t *tasks,
		      uint64_t *active)
{
	MDB_val k = { strlen(COUNTS_KEY), COUNTS_KEY }, v;
	if (!mdb_get(txn, db->main, &k, &v) && v.mv_size == 24 &&
	    tl_get_be64((uint8_t *)v.mv_data + 16) == at) {
		*tasks = tl_get_be64(v.mv_data);
		*active = tl_get_be64((uint8_t *)v.mv_data + 8);
		return true;
	}
	if (tl_meta_get(db, txn, "counts", &v) || v.mv_size != 16)
		return false;
	*tasks = tl_get_be64(v.mv_data);
	*active = tl_get_be64((uint8_t *)v.mv_data + 8);
	return true;
}

bool tl_counts_odd(tl_db *db, MDB_txn *txn, char *buf, size_t cap)
{
	MDB_val k = { strlen(COUNTS_KEY), COUNTS_KEY }, v;
	uint64_t head;
	tl_err e;
	if (mdb_get(txn, db->main, &k, &v))
		return false; /* none (a release before 0.3.16), or unread */
	if (v.mv_size != 24) {
		snprintf(buf, cap, "counts: a record of %zu bytes (24 are "
			 "written)", v.mv_size);
		return true;
	}
	uint64_t at = tl_get_be64((uint8_t *)v.mv_data + 16);
	if (!tl_log_head(db, txn, &head, NULL, &e) && at > head) {
		snprintf(buf, cap, "counts: stored for seq %llu, past the "
			 "head %llu", (unsigned long long)at,
			 (unsigned long long)head);
		return true;
	}
	return false; /* older than the head: a release before 0.3.16 wrote
		       * since, and the counts are counted */
}

bool tl_counts_get(tl_db *db, MDB_txn *txn, uint64_t *tasks,
		   uint64_t *active)
{
	uint64_t head = 0; /* (gcc -O3 cannot tell) */
	tl_err e;
	/* an unreadable head: none stored for it (the caller counts) */
	return !tl_log_head(db, txn, &head, NULL, &e) &&
	       counts_at(db, txn, head, tasks, active);
}

int tl_counts_scan(tl_db *db, MDB_txn *txn, uint64_t *tasks,
		   uint64_t *active, tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	msgpack_zone zone;
	int rc = mdb_cursor_open(txn, db->tasks, &c);
	if (rc)
		return tl_mdb_err(err, rc, "cursor");
	*tasks = *active = 0;
	if (!msgpack_zone_init(&zone, 4096)) {
		mdb_cursor_close(c);
		return tl_err_oom(err);
	}
	int op = MDB_FIRST;
	for (; (rc = mdb_cursor_get(c, &k, &v, op)) == 0; op = MDB_NEXT) {
		tl_task task;
		errno = 0;
		if (tl_task_unpack(v.mv_data, v.mv_size, &task, &zone)) {
			rc = tl_err_undecodable(err, "corrupt task record");
			break;
		}
		if (!task.deleted) {
			(*tasks)++;
			*active += tl_status_active(task.status);
		}
		tl_task_release(&task);
		msgpack_zone_clear(&zone);
	}
	mdb_cursor_close(c);
	msgpack_zone_destroy(&zone);
	/* LMDB's error is not the end of the tasks: counts short of them
	 * would be wrong */
	if (rc == MDB_NOTFOUND)
		return 0;
	return tl_is_mdb_rc(rc) ? tl_mdb_err(err, rc, "count tasks") : rc;
}

/* Store the counts as of the log up to seq `at` (an LMDB code), and drop
 * meta "counts" if a release before 0.3.16 left them: it would trust
 * them, stale, after this one's events. */
int tl_counts_put(tl_db *db, MDB_txn *txn, uint64_t tasks, uint64_t active,
		  uint64_t at)
{
	uint8_t b[24];
	tl_put_be64(b, tasks);
	tl_put_be64(b + 8, active);
	tl_put_be64(b + 16, at);
	MDB_val k = { strlen(COUNTS_KEY), COUNTS_KEY }, v = { 24, b };
	int rc = mdb_put(txn, db->main, &k, &v, 0);
	MDB_val mk = { 6, "counts" };
	if (!rc && (rc = mdb_del(txn, db->meta, &mk, NULL)) == MDB_NOTFOUND)
		rc = 0;
	return rc;
}

/* 0, MDB_MAP_FULL, or a tasklog code with err filled. */
static int counts_commit(tl_txn *t, tl_err *err)
{
	uint64_t tasks, active;
	int rc;
	if (counts_at(t->db, t->txn, t->first_seq - 1, &tasks, &active)) {
		tasks += (uint64_t)t->d_tasks;
		active += (uint64_t)t->d_active;
	} else if ((rc = tl_counts_scan(t->db, t->txn, &tasks, &active,
					err))) {
		return rc; /* a workspace from before the counts (the scan
			      sees this transaction's tasks too) */
	}
	rc = tl_counts_put(t->db, t->txn, tasks, active, t->next_seq - 1);
	if (rc && rc != MDB_MAP_FULL)
		return tl_mdb_err(err, rc, "store task counts");
	return rc;
}

void tl_txn_seqs(const tl_txn *t, uint64_t *first, uint64_t *end)
{
	*first = t->first_seq;
	*end = t->next_seq;
}

int tl_txn_commit(tl_txn *t, tl_err *err)
{
	return tl_txn_commit_progress(t, NULL, NULL, err);
}

int tl_txn_commit_progress(tl_txn *t, tl_commit_progress_fn progress,
			   void *arg, tl_err *err)
{
	tl_db *db = t->db;
	int rc = tl_txn_on_its_thread(t, err);
	if (rc)
		return rc;
	if (t->need_grow) { /* a request found the map full */
		t->need_grow = false;
		tl_txn_abort(t);
		return (rc = tl_db_grow(db, err))
			       ? rc
			       : tl_err_set(err, TL_EAGAIN, "storage",
					    "map full; grown, rerun");
	}
	if (t->broken) { /* a request failed in it (all or nothing), or a
			  * view's writes were half spilled */
		rc = tl_txn_broken_err(t, "it was aborted", err);
		tl_txn_abort(t);
		return rc;
	}
	/* The views' deferred writes, sorted by key. */
	if ((rc = tl_views_flush(t, progress, arg, err))) {
		bool grown = t->need_grow; /* tl_txn_abort grows it then */
		tl_txn_abort(t);
		if (rc != TL_EAGAIN)
			return rc;
		int g = grown ? 0 : tl_db_grow(db, err);
		return g ? g : tl_err_set(err, TL_EAGAIN, "storage",
					  "map full; grown, rerun");
	}
	/* Views opened with this handle saw every event appended here.  A
	 * handle opened without views leaves the mark behind, and the next
	 * open with views rebuilds them. */
	if (db->views_len && t->next_seq != t->first_seq)
		rc = tl_views_advance(db, t->txn, t->first_seq,
				      t->next_seq - 1);
	/* Every commit that appends stamps the counts with its last seq,
	 * changed or not: counts stored at another seq are stale. */
	if (!rc && t->next_seq != t->first_seq) {
		int c = counts_commit(t, err);
		if (c && c != MDB_MAP_FULL) {
			tl_txn_abort(t);
			return c;
		}
		rc = c;
	}
	if (rc) {
		tl_txn_abort(t);
		return rc == MDB_MAP_FULL
			       ? (tl_db_grow(db, err) ? TL_ESTORAGE
						      : tl_err_set(err, TL_EAGAIN,
								   "storage",
								   "map full; grown, rerun"))
			       : tl_mdb_err(err, rc, "mark views");
	}
	/* The sinks were written out: give back a big batch's buffers
	 * (abort does too), while the write lock is still held. */
	tl_views_defer_reset(db);
	rc = mdb_txn_commit(t->txn);
	txn_free(t);
	if (rc == MDB_MAP_FULL) {
		int g = tl_db_grow(db, err);
		return g ? g : tl_err_set(err, TL_EAGAIN, "storage",
					  "map full; grown, rerun");
	}
	return rc ? tl_mdb_err(err, rc, "commit") : 0;
}

/* A request's failure in an all-or-nothing transaction makes a later
 * call on it a misuse, TL_EINVALID "txn", as other calls out of turn are
 * (since 0.3.51; before, TL_ESTORAGE, which tells of a failed storage);
 * views' writes that failed are the storage's. */
int tl_txn_broken_err(const tl_txn *t, const char *then, tl_err *err)
{
	if (t->request_failed)
		return tl_err_set(err, TL_EINVALID, "txn",
				  "a request failed in this transaction, "
				  "which takes its requests all or none: %s",
				  then);
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "the views' writes failed in this transaction: %s",
			  then);
}

int tl_txn_cursor(tl_txn *t, MDB_dbi dbi, MDB_cursor **slot)
{
	if (!t->cursors_of || t->cursors_of != t->cur) {
		/* Cursors of an ended nested txn are gone with it. */
		t->c_events = t->c_streams = t->c_tasks = NULL;
		t->cursors_of = t->cur;
	}
	int rc = 0;
	if (!*slot && (rc = mdb_cursor_open(t->cur, dbi, slot)))
		*slot = NULL;
	return rc;
}

/* ---- init ----------------------------------------------------------- */

static int init_once(tl_db *db, const tl_init_opts *o, int64_t now,
		     tl_err *err)
{
	tl_txn *t;
	int rc = tl_txn_begin(db, &t, err);
	if (rc)
		return rc;
	MDB_val v;
	rc = tl_meta_get(db, t->txn, "format", &v);
	if (rc == 0) {
		tl_txn_abort(t);
		return tl_err_set(err, TL_ECONFLICT, "db",
				  "workspace '%s' is already initialised",
				  db->dir);
	}
	/* init would append a second workspace.initialized to a log whose
	 * settings were lost. */
	rc = rc == MDB_NOTFOUND ? no_settings(db, t->txn, err)
				: tl_mdb_err(err, rc, "read settings");
	if (rc) {
		tl_txn_abort(t);
		return rc;
	}
	const char *tz = o->tz ? o->tz : "UTC";
	const char *ws = o->week_start ? o->week_start : "monday";
	const char *admin = o->admin ? o->admin : "admin";
	uint8_t fmt[4];
	tl_put_be32(fmt, TL_FORMAT_VERSION);

	rc = meta_put(db, t->txn, "format", fmt, 4);
	if (!rc)
		rc = meta_put(db, t->txn, "tz", tz, strlen(tz));
	if (!rc)
		rc = meta_put(db, t->txn, "week_start", ws, strlen(ws));
	if (!rc)
		rc = meta_put(db, t->txn, "admin", admin, strlen(admin));
	/* No counts stored here: the commit counts an empty tasks
	 * database, and stores them (every commit that appends does). */
	if (rc) {
		tl_txn_abort(t);
		return tl_mdb_err(err, rc, "init");
	}

	tl_packer tp;
	msgpack_sbuffer_clear(&t->data);
	msgpack_packer *pk = tl_packer_init(&tp, &t->data);
	msgpack_pack_map(pk, 4);
	TL_KEY(pk, "format");
	msgpack_pack_uint32(pk, TL_FORMAT_VERSION);
	TL_KEY(pk, "tz");
	tl_pack_cstr(pk, tz);
	TL_KEY(pk, "week_start");
	tl_pack_cstr(pk, ws);
	TL_KEY(pk, "admin");
	tl_pack_cstr(pk, admin);
	if (tp.failed) {
		tl_txn_abort(t);
		return tl_err_oom(err);
	}
	tl_event_in in = {
		.type = "workspace.initialized",
		.stream = tl_s("workspace"),
		.version = 1,
		.at_ms = now,
		.actor_id = tl_s(TL_SYSTEM_USER),
		.actor_system = true,
		.data = (const uint8_t *)t->data.data,
		.data_len = t->data.size,
	};
	/* Its views see it as every event (before 0.3.51 they did not,
	 * which the shipped views, blind to it, never showed: a view that
	 * keeps it differed from its own rebuild). */
	tl_event ev;
	rc = tl_log_append(t, &in, &ev, err);
	if (!rc && t->db->views_len)
		rc = tl_views_apply(t, &ev, NULL, NULL, err);
	if (rc) {
		tl_txn_abort(t);
		return rc;
	}
	/* The first admin is added like any member, by the system user. */
	tl_ctx sys = { .actor = TL_SYSTEM_USER, .now_ms = now };
	tl_cmd add = {
		.kind = TL_MEMBER_ADD,
		.id = tl_s(admin),
		.name = tl_s(admin),
		.role = tl_s("admin"),
	};
	tl_result res = { 0 };
	rc = tl_txn_exec(t, &sys, &add, 1, &res, err);
	tl_result_release(&res);
	if (rc) {
		tl_txn_abort(t);
		return rc;
	}
	return tl_txn_commit(t, err);
}

int tl_init_check(const tl_init_opts *opts, tl_err *err)
{
	static const tl_init_opts none;
	if (!opts)
		opts = &none;
	char q[88]; /* values quoted whole-charactered (0.3.51) */
	if (opts->tz && !tl_tz_valid(opts->tz))
		return tl_err_set(err, TL_EINVALID, "tz",
				  "unknown time zone '%s'",
				  tl_quote_max(tl_s(opts->tz), 64, q, sizeof q));
	if (opts->week_start && strcmp(opts->week_start, "monday") &&
	    strcmp(opts->week_start, "sunday"))
		return tl_err_set(err, TL_EINVALID, "week_start",
				  "must be monday or sunday, not '%s'",
				  tl_quote(tl_s(opts->week_start), q,
					   sizeof q));
	if (opts->admin && !tl_member_id_valid(tl_s(opts->admin)))
		return tl_err_set(err, TL_EINVALID, "admin",
				  "member id '%s' must be 1..64 of [a-z0-9._-]",
				  tl_quote_max(tl_s(opts->admin), 64, q,
					       sizeof q));
	int rc;
	if (opts->admin &&
	    (rc = tl_member_id_unreserved(tl_s(opts->admin), "admin", err)))
		return rc;
	if (opts->admin && !strcmp(opts->admin, TL_SYSTEM_USER))
		return tl_err_set(err, TL_EINVALID, "admin",
				  "'%s' is the system user, not a member",
				  TL_SYSTEM_USER);
	/* as every command checks its clock (before 0.3.51 only the
	 * first admin's addition did, after the files were made) */
	if (opts->now_ms && !tl_time_in_range(opts->now_ms))
		return tl_err_set(err, TL_EINVALID, "now",
				  "%lld ms is not in the years 1970 to 9999 "
				  "UTC", (long long)opts->now_ms);
	return 0;
}

int tl_db_init(tl_db *db, const tl_init_opts *opts, tl_err *err)
{
	static const tl_init_opts none;
	if (!opts)
		opts = &none;
	int rc = tl_init_check(opts, err);
	if (rc)
		return rc;
	int64_t now = opts->now_ms ? opts->now_ms : tl_time_now();
	for (;;) {
		size_t before = tl_db_map_size(db);
		rc = init_once(db, opts, now, err);
		if (rc != TL_EAGAIN)
			return rc;
		if ((rc = tl_db_grow_from(db, before, err)))
			return rc;
	}
}

/* ---- the log -------------------------------------------------------- */

/* LMDB 0.9's layout (as pages.c reads it): a page header of 16 bytes
 * whose flags (2 bytes at 10) mark an overflow page, which gives its
 * number of pages (4 bytes at 12); a leaf node of 8 bytes before its key;
 * a value larger than what a node may hold beside its key in a leaf
 * (me_nodemax: half a page's room, even, less a 2-byte pointer) in
 * overflow pages, which LMDB's read returns from the 17th byte of the
 * first. */
#define OVF_HDR 16
#define OVF_FLAG 0x04

bool tl_event_val_fits(const tl_db *db, const MDB_val *v)
{
	size_t ps = db->psize;
	if (sizeof(size_t) != 8 || ps < 1024)
		return true; /* a layout not known: LMDB's reads alone */
	size_t nodemax = (((ps - OVF_HDR) / 2) & ~(size_t)1) - 2;
	if (v->mv_size <= nodemax - 8 - 8)
		return true; /* within a leaf page, as its 8-byte key */
	/* Larger: an overflow value, whose page header is the 16 bytes
	 * before it (in the map, or in a page this transaction wrote).  A
	 * leaf's value is preceded by its node and 8-byte key, 16 bytes
	 * in the same page: reading them is safe either way, and the
	 * key's bytes (a seq's high bytes, zero) do not say "overflow". */
	const uint8_t *h = (const uint8_t *)v->mv_data - OVF_HDR;
	uint16_t flags;
	uint32_t pages;
	memcpy(&flags, h + 10, 2);
	memcpy(&pages, h + 12, 4);
	return (flags & OVF_FLAG) && pages >= 1 &&
	       v->mv_size <= (uint64_t)pages * ps - OVF_HDR;
}

int tl_event_val_damaged(tl_err *err, uint64_t seq, const MDB_val *v)
{
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "event %llu is corrupt: its record's size (%zu "
			  "bytes) runs past the pages that hold it (`tasklog "
			  "verify` names it; restore data.mdb from a backup)",
			  (unsigned long long)seq, v->mv_size);
}

int tl_log_head(tl_db *db, MDB_txn *txn, uint64_t *seq,
		uint8_t hash[TL_HASH_LEN], tl_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, db->events, &c);
	if (rc)
		return tl_mdb_err(err, rc, "cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		*seq = 0;
		if (hash)
			memset(hash, 0, TL_HASH_LEN);
		return 0;
	}
	if (rc)
		return tl_mdb_err(err, rc, "read log head");
	if (k.mv_size != 8)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "corrupt log head record");
	*seq = tl_get_be64(k.mv_data);
	if (!hash) /* the seq alone: the record is not read */
		return 0;
	if (v.mv_size < 40)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "corrupt log head record");
	if (!tl_event_val_fits(db, &v))
		return tl_event_val_damaged(err, *seq, &v);
	memcpy(hash, (uint8_t *)v.mv_data + v.mv_size - TL_HASH_LEN,
	       TL_HASH_LEN);
	return 0;
}

size_t tl_stream_key(tl_slice stream, uint8_t *out)
{
	uint8_t id[16];
	if (tl_uuid_parse(stream, id)) {
		out[0] = 'T';
		memcpy(out + 1, id, 16);
		return 17;
	}
	size_t n = stream.len > TL_STREAM_KEY_MAX - 1 ? TL_STREAM_KEY_MAX - 1
						       : stream.len;
	out[0] = 'S';
	memcpy(out + 1, stream.p, n);
	return n + 1;
}

void tl_event_hash(const uint8_t prev[TL_HASH_LEN], const uint8_t *raw,
		   size_t len, uint8_t out[TL_HASH_LEN])
{
	static const uint8_t head = 0x89;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, TL_HASH_LEN);
	crypto_generichash_update(&st, prev, TL_HASH_LEN);
	crypto_generichash_update(&st, &head, 1);
	crypto_generichash_update(&st, raw + 1, len - 1 - 39);
	crypto_generichash_final(&st, out, TL_HASH_LEN);
}

int tl_log_append(tl_txn *t, const tl_event_in *in, tl_event *out,
		  tl_err *err)
{
	msgpack_sbuffer *b = &t->ev;
	uint8_t id[16];
	char idtext[37];

	tl_uuid_v7(in->at_ms, id);
	tl_uuid_format(id, idtext);
	msgpack_sbuffer_clear(b);
	size_t type_len = strlen(in->type);
	uint8_t *p = tl_w_begin(b, 200 + TL_W_STR(type_len) +
					   TL_W_STR(in->stream.len) +
					   TL_W_STR(in->actor_id.len) +
					   in->data_len);
	if (!p)
		return tl_err_oom(err);
	p = tl_w_map(p, 10);
	p = TL_WK(p, "seq");
	p = tl_w_u64(p, t->next_seq);
	p = TL_WK(p, "id");
	p = tl_w_str(p, idtext, 36);
	p = TL_WK(p, "type");
	p = tl_w_str(p, in->type, type_len);
	p = TL_WK(p, "stream");
	p = tl_w_str(p, in->stream.p, in->stream.len);
	p = TL_WK(p, "version");
	p = tl_w_u64(p, in->version);
	p = TL_WK(p, "at");
	p = tl_w_time(p, in->at_ms);
	p = TL_WK(p, "actor");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "id");
	p = tl_w_str(p, in->actor_id.p, in->actor_id.len);
	p = TL_WK(p, "kind");
	p = in->actor_system ? TL_WK(p, "system") : TL_WK(p, "user");
	p = TL_WK(p, "schema");
	p = tl_w_u64(p, TL_SCHEMA_VERSION);
	p = TL_WK(p, "data");
	memcpy(p, in->data, in->data_len);
	p += in->data_len;
	p = TL_WK(p, "hash");
	/* Reserve the hash bytes, then compute over the canonical form. */
	uint8_t zero[TL_HASH_LEN] = { 0 };
	p = tl_w_bin(p, zero, TL_HASH_LEN);
	tl_w_end(b, p);
	/* out->raw is this buffer, never the queued copy, which the
	 * chain's thread writes its hash into meanwhile. */
	const uint8_t *raw = (const uint8_t *)b->data;
	uint8_t *hash = (uint8_t *)b->data + b->size - TL_HASH_LEN;
	int rc;
	if (t->chain) {
		/* Hashed on the chain's thread, stored by tl_chain_sync. */
		if ((rc = tl_chain_push(t, t->next_seq, raw, b->size, err)))
			return rc;
	} else {
		tl_event_hash(t->prev_hash, raw, b->size, hash);
		uint8_t kb[8];
		tl_put_be64(kb, t->next_seq);
		MDB_val k = { 8, kb }, v = { b->size, (void *)raw };
		if ((rc = tl_txn_cursor(t, t->db->events, &t->c_events)))
			return tl_mdb_err(err, rc, "cursor");
		if ((rc = mdb_cursor_put(t->c_events, &k, &v, MDB_APPEND)))
			return tl_mdb_err(err, rc, "append event");
		memcpy(t->prev_hash, hash, TL_HASH_LEN);
	}
	if ((rc = tl_txn_cursor(t, t->db->streams, &t->c_streams)))
		return tl_mdb_err(err, rc, "cursor");
	MDB_cursor *cs = t->c_streams;

	uint8_t sk[TL_STREAM_KEY_MAX], sv[12];
	MDB_val skv = { 0, sk };
	if (in->skey) {
		skv.mv_size = in->skey_len;
		skv.mv_data = (void *)in->skey;
	} else {
		skv.mv_size = tl_stream_key(in->stream, sk);
	}
	tl_put_be32(sv, in->version);
	tl_put_be64(sv + 4, t->next_seq);
	MDB_val svv = { 12, sv };
	/* New streams of time-ordered ids usually sort last. */
	rc = MDB_KEYEXIST;
	if (in->new_stream)
		rc = mdb_cursor_put(cs, &skv, &svv, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_cursor_put(cs, &skv, &svv, MDB_NODUPDATA);
	if (rc == MDB_KEYEXIST)
		return tl_err_set(err, TL_ECONFLICT, "version",
				  "stream '%.*s' already has version %u",
				  (int)in->stream.len, in->stream.p,
				  in->version);
	if (rc)
		return tl_mdb_err(err, rc, "append stream index");

	if (out) {
		memset(out, 0, sizeof *out);
		out->seq = t->next_seq;
		memcpy(out->id, idtext, 37);
		out->type = tl_s(in->type);
		out->stream = in->stream;
		out->version = in->version;
		out->at_ms = in->at_ms;
		out->actor_id = in->actor_id;
		out->actor_kind = tl_s(in->actor_system ? "system" : "user");
		out->schema = TL_SCHEMA_VERSION;
		out->data = in->data;
		out->data_len = in->data_len;
		/* Zero in a batch whose chain is hashed on a thread, in
		 * out->raw too (tasklog_view.h). */
		memcpy(out->hash, hash, TL_HASH_LEN);
		out->raw = raw;
		out->raw_len = b->size;
	}
	t->next_seq++;
	return 0;
}
