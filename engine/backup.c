/*
 * backup.c - a copy of a workspace as of one moment, taken while it serves.
 *
 * LMDB copies an environment from one read transaction (mdb_env_copyfd2):
 * the copy is the state of one commit, and writers of this or any other
 * process go on meanwhile (they cannot reuse the pages that read pins, so
 * the workspace's file may grow while a long copy runs).  With
 * TL_BACKUP_COMPACT LMDB walks the B-trees and leaves out free pages, so
 * that the copy is as small as its data (a workspace never gives back the
 * space that rebuilds and deletes free; a compact copy does).
 *
 * What this adds to LMDB's copy is durability and a name that never lies:
 * the copy is written to DIR/data.mdb.partial, fsync'd, renamed to
 * DIR/data.mdb, and DIR fsync'd; a data file shorter than the pages its
 * newest commit uses is refused before (whole_source).  A crash or a failure leaves no
 * data.mdb that is not a whole copy; a failure removes the partial file
 * (and DIR, when this call made it).  The copy is then opened as a
 * workspace and its log's head read, which is what the caller is told.
 *
 * Progress (tl_db_backup_progress): LMDB writes the copy in order and
 * says nothing meanwhile, so a thread looks at the partial file's size
 * every tl_backup_tick_ms while the copy runs, against the size expected:
 * the pages in use, less the free ones for a compact copy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define PARTIAL "data.mdb.partial"

static int no_parent(const char *dir, int e, tl_err *err)
{
	return tl_err_set(err, TL_EINVALID, "dir",
			  "cannot make '%s': %s (its parent must exist)", dir,
			  strerror(e));
}

static int not_a_dir(const char *dir, tl_err *err)
{
	return tl_err_set(err, TL_EINVALID, "dir",
			  "'%s' exists and is not a directory", dir);
}

/* The argument's own checks, made before the actor is (since 0.3.51; a
 * non-admin naming a DIR whose parent is missing was refused as a
 * non-admin): DIR is a directory, or can be made, as far as a look at the
 * path tells without making anything.  backup_dir decides. */
static int dir_possible(const char *dir, tl_err *err)
{
	struct stat st;
	char path[PATH_MAX];
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : not_a_dir(dir, err);
	int e = errno;
	if (e == ENAMETOOLONG)
		return tl_err_set(err, TL_EINVALID, "dir", "%s: '%s'",
				  strerror(e), dir);
	size_t n = strlen(dir);
	if ((e != ENOENT && e != ENOTDIR) || n >= sizeof path)
		return 0; /* not ours to judge here: backup_dir says */
	memcpy(path, dir, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	/* The name itself is there: a file named with a slash after it, or
	 * a link to nothing. */
	if (lstat(path, &st) == 0)
		return not_a_dir(dir, err);
	char *slash = strrchr(path, '/');
	if (!slash)
		return 0; /* in the working directory, which exists */
	slash[slash == path] = 0; /* "/x": the root */
	if (stat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? no_parent(dir, errno, err)
			       : 0;
	return S_ISDIR(st.st_mode) ? 0 : no_parent(dir, ENOTDIR, err);
}

/*
 * Who may use the copy: it is as open as the workspace, never more.  A
 * directory the backup makes, and the copy in it, get the permission
 * bits of the workspace's directory (its owner's rwx added) and of its
 * data.mdb; a copy into a directory that was there gets data.mdb's bits
 * narrowed by the umask, as cp makes a file (that directory is the
 * caller's, and may be more open than the workspace's).  Both take the
 * workspace's group where the caller may give it (else the bits of the
 * group are dropped: another group would get them), and its owner when
 * root makes them: a group's 660 workspace in a setgid 2775 directory
 * stays the group's when its compact copy replaces it, and the copy of a
 * service user's data.mdb in a directory of root's is that user's.  Until 0.3.54 the umask and the
 * caller made them (a 660 workspace's copy 644 under umask 022, which
 * refused the group's other writer).
 *
 * Until the copy is whole and read back, the file is its maker's alone
 * (0600) and a directory made for it too (0700): the group and the
 * owner are given last, through descriptors held since each was made,
 * so that nothing the new owner does meanwhile (links planted in the
 * directory) is followed by the caller, root perhaps.  A failure to give
 * them is not said: the copy stays its maker's alone.
 */
/* The process's umask without changing it (umask(2) would, for every
 * thread): Linux's /proc/self/status says it since 4.7; else 077, which
 * narrows the most. */
static mode_t process_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned m = 077;
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "Umask: %o", &m) == 1;
	if (f)
		fclose(f);
	return found ? (mode_t)m & 0777 : 077;
}

static void give_like(int fd, const struct stat *src, mode_t mode)
{
	struct stat now;
	if (geteuid() == 0)
		(void)!fchown(fd, src->st_uid, src->st_gid);
	else
		(void)!fchown(fd, (uid_t)-1, src->st_gid);
	if (fstat(fd, &now) != 0)
		return;
	if (now.st_gid != src->st_gid)
		mode &= ~(mode_t)0070;
	(void)fchmod(fd, mode);
}

/* 0 when dir can take the copy: made now (*made), or an empty directory. */
static int backup_dir(const char *dir, bool *made, tl_err *err)
{
	*made = false;
	if (mkdir(dir, 0700) == 0) { /* its mode given at the end */
		*made = true;
		return 0;
	}
	int e = errno;
	if (e == ENOENT || e == ENOTDIR)
		return no_parent(dir, e, err);
	if (e != EEXIST)
		return tl_err_set(err, TL_ESTORAGE, "dir",
				  "cannot make '%s': %s", dir, strerror(e));
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return not_a_dir(dir, err);
	DIR *d = opendir(dir);
	if (!d)
		return tl_err_set(err, TL_ESTORAGE, "dir", "cannot read '%s': %s",
				  dir, strerror(errno));
	struct dirent *de;
	size_t entries = 0;
	bool partial = false; /* a backup's leftover, or one running */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			entries++;
			partial |= !strcmp(de->d_name, PARTIAL);
		}
	closedir(d);
	if (entries == 1 && partial)
		return tl_err_set(err, TL_EINVALID, "dir",
				  "'%s' holds only " PARTIAL ", of a backup "
				  "that did not finish (killed, or still "
				  "running): delete it once no backup runs, or "
				  "choose another directory", dir);
	if (entries)
		return tl_err_set(err, TL_EINVALID, "dir",
				  "'%s' is not empty (a backup goes into a new "
				  "or empty directory)", dir);
	return 0;
}

/* Rename the copy at path to final unless final exists (another backup
 * into the same directory finished first): 0, or an errno (EEXIST). */
static int put_in_place(const char *path, const char *final)
{
	if (renameat2(AT_FDCWD, path, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	/* A file system without RENAME_NOREPLACE: a hard link is not made
	 * over an existing name either. */
	if (link(path, final) == 0) {
		unlink(path);
		return 0;
	}
	if (errno == EEXIST)
		return EEXIST;
	/* Nor hard links: as near as it gets. */
	if (access(final, F_OK) == 0)
		return EEXIST;
	return rename(path, final) ? errno : 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) ? errno : 0;
	close(fd);
	return rc;
}

/* The directory that holds dir (whose entry a mkdir made), synced. */
static int sync_parent(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	while (n > 0 && dir[n - 1] != '/')
		n--;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return sync_dir(".");
	memcpy(p, dir, n);
	p[n] = 0;
	return sync_dir(p);
}

/* Tests: called between the checks (the actor, the directory) and the
 * copy. */
void (*tl_backup_hook)(void *arg);
void *tl_backup_hook_arg;
void (*tl_backup_read_hook)(void *arg);

long tl_backup_tick_ms = 100;
_Thread_local bool tl_backup_adopting;

/* A copy's progress, told from a thread of its own while LMDB writes. */
typedef struct watch {
	int fd;
	uint64_t total, told;
	tl_progress_fn fn;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
} watch;

static void *watch_run(void *p)
{
	watch *w = p;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (tl_backup_tick_ms % 1000) * 1000000L;
		until.tv_sec += tl_backup_tick_ms / 1000 +
				until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		(void)pthread_cond_timedwait(&w->cv, &w->mu, &until);
		struct stat st;
		if (w->stop || fstat(w->fd, &st) != 0)
			continue;
		/* the total is an estimate (a compact copy's): all of it is
		 * told at the end alone */
		uint64_t done = (uint64_t)st.st_size;
		if (done >= w->total)
			done = w->total - 1;
		if (done > w->told) {
			w->told = done;
			w->fn(w->arg, done, w->total);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The size the copy is expected to reach: every page in use (a plain
 * copy), less those on the free list (a compact one); 0 when it cannot
 * say. */
static uint64_t copy_size(tl_db *db, unsigned flags)
{
	uint64_t used = tl_map_used(db), free_pages = 0;
	MDB_txn *txn;
	MDB_stat st;
	if (!used || !(flags & TL_BACKUP_COMPACT))
		return used;
	if (tl_env_begin(db, MDB_RDONLY, &txn))
		return used;
	int rc = tl_free_pages(txn, &free_pages);
	mdb_txn_abort(txn);
	if (rc || mdb_env_stat(db->env, &st))
		return used;
	uint64_t free_bytes = free_pages * st.ms_psize;
	return free_bytes < used ? used - free_bytes : used;
}

/* LMDB's copy into the open file fd, from the start; an LMDB or errno
 * code.  A map grown by another process since this handle last looked is
 * adopted (as any read does) and the copy taken again. */
static int copy_into(tl_db *db, int fd, unsigned flags)
{
	int rc;
	for (int tries = 0;; tries++) {
		rc = mdb_env_copyfd2(db->env, fd,
				     flags & TL_BACKUP_COMPACT ? MDB_CP_COMPACT
							       : 0);
		if (rc != MDB_MAP_RESIZED || tries == 8)
			return rc;
		MDB_txn *txn;
		/* this thread's own adoption of the map, between copies */
		tl_backup_adopting = true;
		rc = tl_env_begin(db, MDB_RDONLY, &txn);
		tl_backup_adopting = false;
		if (rc)
			return rc;
		mdb_txn_abort(txn);
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
			return errno;
	}
}

/* 0 when the workspace's data file holds every page its newest commit
 * uses.  A file cut short (a partial copy or restore) past the pages that
 * opening it reads would otherwise be copied as it is: LMDB's plain copy
 * stops at the file's end, and the copy would open and fail later.  The
 * pages in use are read before the file's size, which only grows. */
static int whole_source(tl_db *db, tl_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fs;
	mdb_filehandle_t fd;
	int rc;
	if ((rc = mdb_env_info(db->env, &info)) ||
	    (rc = mdb_env_stat(db->env, &st)) ||
	    (rc = mdb_env_get_fd(db->env, &fd)))
		return tl_mdb_err(err, rc, "read the workspace's size");
	if (fstat(fd, &fs) != 0)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "read the workspace's size: %s",
				  strerror(errno));
	uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if ((uint64_t)fs.st_size < used)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "data.mdb is %llu bytes but its pages in "
				  "use end at byte %llu: the file was cut "
				  "short (a partial copy or restore, or a "
				  "failing disk), and a copy of it would be "
				  "too: restore it from a copy",
				  (unsigned long long)fs.st_size,
				  (unsigned long long)used);
	return 0;
}

/* What the copy in dir holds: opened as a workspace (no views), without
 * a lock.mdb (until 0.3.54 the open made one, through a link planted in
 * dir too, and removed it after). */
static int read_copy(const char *dir, const char *shown,
		     tl_backup_info *out, tl_err *err)
{
	tl_db *copy;
	MDB_txn *txn;
	MDB_stat st;
	int rc = tl_db_open_private(dir, shown, &copy, err);
	if (rc)
		return rc;
	if (!(rc = tl_read_begin(copy, &txn, err))) {
		if ((rc = mdb_stat(txn, copy->events, &st)))
			rc = tl_mdb_err(err, rc, "read the copy's log");
		else if (!(rc = tl_log_head(copy, txn, &out->last_seq, NULL,
					    err)))
			out->events = st.ms_entries;
		mdb_txn_abort(txn);
	}
	tl_db_close(copy);
	return rc;
}

int tl_db_backup(tl_db *db, const tl_ctx *ctx, const char *dir,
		 unsigned flags, tl_backup_info *out, tl_err *err)
{
	return tl_db_backup_progress(db, ctx, dir, flags, NULL, NULL, out,
				     err);
}

/* copy_into with the copy's size told to w->fn meanwhile (when set). */
static int copy_watched(tl_db *db, int fd, unsigned flags, watch *w)
{
	pthread_t th;
	bool started = false;
	if (w->fn) {
		w->total = copy_size(db, flags);
		if (!w->total) /* cannot say: told at the end alone */
			w->total = 1;
		w->fn(w->arg, 0, w->total);
		/* while its thread may call back: no remap of the map that
		 * LMDB's copy reads (tl_env_resize, tl_db_reserve) */
		atomic_store(&db->copying, true);
		/* (signals blocked in it, as in every thread of ours) */
		started = !tl_thread_start(&th, watch_run, w);
	}
	int rc = copy_into(db, fd, flags);
	if (started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(th, NULL);
	}
	atomic_store(&db->copying, false);
	return rc;
}

int tl_db_backup_progress(tl_db *db, const tl_ctx *ctx, const char *dir,
			  unsigned flags, tl_progress_fn progress, void *arg,
			  tl_backup_info *out, tl_err *err)
{
	watch w = { .fn = progress, .arg = arg,
		    .mu = PTHREAD_MUTEX_INITIALIZER,
		    .cv = PTHREAD_COND_INITIALIZER };
	char path[PATH_MAX], final[PATH_MAX];
	tl_backup_info info = { 0 };
	bool made;
	struct stat st;
	int fd, rc;

	/* Arguments before look-ups. */
	if (flags & ~(unsigned)TL_BACKUP_COMPACT)
		return tl_err_set(err, TL_EINVALID, "flags",
				  "unknown backup flags 0x%x", flags);
	if (!dir || !*dir)
		return tl_err_set(err, TL_EINVALID, "dir",
				  "give the directory to copy into");
	if ((size_t)snprintf(path, sizeof path, "%s/" PARTIAL, dir) >=
		    sizeof path ||
	    (size_t)snprintf(final, sizeof final, "%s/data.mdb", dir) >=
		    sizeof final)
		return tl_err_set(err, TL_EINVALID, "dir", "path too long");
	if ((rc = dir_possible(dir, err)))
		return rc;
	if ((rc = tl_no_txn_open(db, err)))
		return rc;
	/* LMDB's plain copy takes the writer lock to read the meta pages. */
	if ((rc = tl_no_writer_held(db, err)))
		return rc;
	if ((rc = tl_need_admin(db, ctx, "backup", err)))
		return rc;
	if ((rc = whole_source(db, err)))
		return rc;

	/* The workspace's directory and data.mdb, whose modes the copy
	 * takes (give_like). */
	struct stat src_dir, src_file;
	mdb_filehandle_t src_fd;
	bool src_ok = !mdb_env_get_fd(db->env, &src_fd) &&
		      !fstat(src_fd, &src_file) && !stat(db->fsdir, &src_dir);

	if ((rc = backup_dir(dir, &made, err)))
		return rc;
	/* dir, held open and reached through the descriptor from here on
	 * (fpath, ffinal, fdir; the names by which it was given, in the
	 * messages): a parent directory that another user may change cannot
	 * move another directory in its place.  As root, a dir that was there
	 * must be root's alone, as a workspace must (store.c, root_dir):
	 * whoever else may change it could have root write through a link,
	 * or read the copy (since 0.3.54). */
	char fdir[TL_FD_PATH_MAX], fpath[sizeof path], ffinal[sizeof final];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				    (made ? O_NOFOLLOW : 0));
	struct stat ds;
	if (dfd < 0 || fstat(dfd, &ds) != 0) {
		/* made just now, and already gone or moved; or one that was
		 * there which cannot be looked at (root must) */
		rc = tl_err_set(err, TL_ESTORAGE, "dir", "cannot open '%s': %s",
				dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		dfd = -1;
		if (made)
			goto fail_dir;
		return rc;
	}
	/* The one made just now is this process's: another in its place
	 * (moved in by whoever may change its parent) is not written to. */
	if (made && ds.st_uid != geteuid()) {
		close(dfd);
		dfd = -1;
		rc = tl_err_set(err, TL_ESTORAGE, "dir",
				"'%s' was replaced by another user's "
				"directory as it was made", dir);
		made = false; /* not ours to remove */
		goto fail_dir;
	}
	if (!made && geteuid() == 0 && !tl_root_alone(&ds)) {
		close(dfd);
		return tl_err_set(err, TL_EFORBIDDEN, "dir",
				  "'%s' may be changed by others than root: "
				  "as root, backup copies only into a "
				  "directory of root's alone, or a new one",
				  dir);
	}
	if (!tl_fd_path(dfd, &ds, fdir)) { /* no /proc: by its name */
		snprintf(fpath, sizeof fpath, "%s", path);
		snprintf(ffinal, sizeof ffinal, "%s", final);
		fdir[0] = 0;
	} else {
		snprintf(fpath, sizeof fpath, "%s/" PARTIAL, fdir);
		snprintf(ffinal, sizeof ffinal, "%s/data.mdb", fdir);
	}
	const char *fsd = fdir[0] ? fdir : dir;
	if (tl_backup_hook)
		tl_backup_hook(tl_backup_hook_arg);
	/* The caller's alone (0600) until the end; then data.mdb's bits,
	 * narrowed by the umask in a dir that was there (learned from
	 * /proc/self/status; without it, the owner's bits alone). */
	fd = open(fpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mode_t mode = 0600;
	if (fd >= 0 && src_ok)
		mode = made ? src_file.st_mode & 0666
			    : src_file.st_mode & 0666 & ~process_umask();
	if (fd < 0 && errno == EEXIST) {
		/* Another backup into dir began since backup_dir found it
		 * empty: its file, not ours to remove. */
		if (dfd >= 0)
			close(dfd);
		return tl_err_set(err, TL_EINVALID, "dir",
				  "'%s' is not empty: another backup began "
				  "writing into it (a backup goes into a new "
				  "or empty directory)", dir);
	}
	if (fd < 0) {
		rc = tl_err_set(err, TL_ESTORAGE, "dir", "cannot create %s: %s",
				path, strerror(errno));
		goto fail_dir;
	}
	w.fd = fd;
	if ((rc = copy_watched(db, fd, flags, &w)) ||
	    (fsync(fd) && (rc = errno)) || (fstat(fd, &st) && (rc = errno))) {
		char what[PATH_MAX + 16];
		snprintf(what, sizeof what, "copy into %s", path);
		rc = tl_mdb_err(err, rc, what);
		goto fail_file;
	}
	info.bytes = (uint64_t)st.st_size;
	if ((rc = put_in_place(fpath, ffinal)) == EEXIST) {
		rc = tl_err_set(err, TL_EINVALID, "dir",
				"'%s' is not empty: another backup finished "
				"into it first (a backup goes into a new or "
				"empty directory)", dir);
		goto fail_file;
	} else if (rc) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"rename %s to data.mdb: %s", path,
				strerror(rc));
		goto fail_file;
	}
	/* The copy is whole from here on: a failure says so, and leaves it
	 * (its maker's alone). */
	if ((rc = sync_dir(fsd)) || (made && (rc = sync_parent(dir)))) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"the copy in %s is whole, but syncing its "
				"directory failed (its name may not survive "
				"a crash): %s", final, strerror(rc));
		goto out;
	}
	if (progress) /* in place and synced: all of it, as large as it is */
		progress(arg, info.bytes, info.bytes);
	if (tl_backup_read_hook)
		tl_backup_read_hook(tl_backup_hook_arg);
	if ((rc = read_copy(fsd, dir, &info, err))) {
		if (err) {
			char why[sizeof err->message];
			snprintf(why, sizeof why, "%s", err->message);
			rc = tl_err_set(err, rc, "storage",
					"the copy in %s is whole, but reading "
					"it back failed: %s", final, why);
		}
		goto out;
	}
	/* Read back: now the workspace's users' (give_like). */
	if (src_ok) {
		give_like(fd, &src_file, mode);
		if (made && dfd >= 0)
			give_like(dfd, &src_dir,
				  (src_dir.st_mode & 07777) | S_IRWXU);
	}
	if (out)
		*out = info;
out:
	close(fd); /* after fsync: its errors are told */
	if (dfd >= 0)
		close(dfd);
	return rc;

fail_file:
	close(fd);
	unlink(fpath);
fail_dir:
	if (dfd >= 0)
		close(dfd);
	if (made)
		rmdir(dir);
	return rc;
}
