/*
 * pages.c - the structure of LMDB's file, below the records: every page
 * that a B-tree of the last commit reaches, against LMDB's free list.
 *
 * LMDB trusts its free list: a page listed there is handed to the next
 * write transaction and overwritten.  Damage that lists a page still in
 * use (a flipped bit in the free list's records, or in the meta page's
 * last page number) is invisible to every read, and the next write
 * destroys what the page holds.  So verify walks the trees of the
 * commit it reads, marks their pages, and names every marked page that
 * the free list holds, or that lies past the last page LMDB thinks it
 * has used.
 *
 * The walk reads the pages through a read-only map of the file of its
 * own (LMDB does not tell where its map is; both see the page cache,
 * LMDB writing with pwrite), in the layout
 * of LMDB 0.9 (lmdb's mdb.c: MDB_page, MDB_node, MDB_db, MDB_meta): a
 * 16-byte page header (page number, pad, flags, lower and upper bounds or
 * an overflow page count), nodes whose offsets follow the header, a
 * branch node's child page number in its first 6 bytes, a leaf node's
 * data after its key: an overflow page number (F_BIGDATA), a database
 * record (F_SUBDATA: a named database in the main one, or the tree of a
 * key's duplicates), or a sub-page of duplicates inline.  Only pages
 * inside the file are read, so a damaged page number cannot make the
 * walk fault; every field is checked before it is used.
 *
 * The same layout serves the open's check of the roots that would make
 * LMDB abort (tl_pages_roots_check, tl_dbi_open).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PAGEHDRSZ 16
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_LEAF2 0x20
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define DB_SIZE 48          /* MDB_db */
#define DB_ROOT 40          /* its md_root */
#define META_DBS 24         /* MDB_meta: mm_dbs[0] (free), [1] (main) */
#define META_LAST_PG 120
#define META_TXNID 128
#define META_SIZE 136
#define MAX_DEPTH 64        /* LMDB's cursors stop at 32 */
#define MAX_SAID 20         /* problems named one by one */
#define P_INVALID UINT64_MAX

typedef struct walk {
	const uint8_t *map; /* the file, up to npages */
	size_t maplen;
	size_t psize;
	uint64_t npages;   /* pages that can be read: the file's */
	uint64_t last_pg;  /* the meta page's: the last page in use */
	uint8_t *seen;     /* one bit per page up to last_pg */
	uint16_t *owner;   /* which tree reached each page: names[] index */
	char names[256][48];
	int nnames;
	const uint8_t *meta_at; /* the meta page read, in the map */
	uint64_t txnid;
	int problems;
	char said[MAX_SAID][300]; /* kept until the meta is known whole */
	tl_progress_fn progress;  /* pages reached of last_pg + 1 */
	void *progress_arg;
	uint64_t reached;
} walk;

static uint64_t get(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	memcpy(&v, p, n); /* LMDB's files are in the host's byte order */
	return v;
}

static void say(walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(walk *w, const char *fmt, ...)
{
	va_list ap;
	if (++w->problems > MAX_SAID)
		return;
	va_start(ap, fmt);
	vsnprintf(w->said[w->problems - 1], sizeof w->said[0], fmt, ap);
	va_end(ap);
}

/* Mark page pg as reached by tree `who`: false when it cannot be (past
 * the last page, outside the file) or was reached before. */
static bool mark(walk *w, uint64_t pg, int who)
{
	if (pg < 2) {
		say(w, "pages: %s reaches page %llu, a meta page",
		    w->names[who], (unsigned long long)pg);
		return false;
	}
	if (pg > w->last_pg) {
		say(w, "pages: %s reaches page %llu, past the last page in use "
		       "(%llu)",
		    w->names[who], (unsigned long long)pg,
		    (unsigned long long)w->last_pg);
		return false;
	}
	if (pg >= w->npages) {
		say(w, "pages: %s reaches page %llu, past the end of the file "
		       "(%llu pages)",
		    w->names[who], (unsigned long long)pg,
		    (unsigned long long)w->npages);
		return false;
	}
	if (w->seen[pg / 8] & (1u << (pg % 8))) {
		say(w, "pages: page %llu is reached twice (by %s and %s)",
		    (unsigned long long)pg, w->names[w->owner[pg]],
		    w->names[who]);
		return false;
	}
	w->seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
	w->owner[pg] = (uint16_t)who;
	if (w->progress && (++w->reached & 0x3fff) == 0)
		w->progress(w->progress_arg, w->reached, w->last_pg + 1);
	return true;
}

static int name_of(walk *w, const uint8_t *key, size_t len)
{
	if (w->nnames == 255) { /* more databases than names: one for all */
		snprintf(w->names[255], sizeof w->names[0],
			 "a named database");
		return 255;
	}
	snprintf(w->names[w->nnames], sizeof w->names[0], "database '%.*s'",
		 (int)(len > 32 ? 32 : len), (const char *)key);
	for (char *c = w->names[w->nnames]; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return w->nnames++;
}

static void tree(walk *w, uint64_t pg, int who, int depth, bool main_db);

/* The overflow pages of a leaf node's big value. */
static void overflow(walk *w, uint64_t pg, int who)
{
	if (!mark(w, pg, who))
		return;
	const uint8_t *p = w->map + pg * w->psize;
	uint64_t n = get(p + 12, 4);
	if (!(get(p + 10, 2) & P_OVERFLOW) || get(p, 8) != pg || n < 1) {
		say(w, "pages: page %llu of %s is not the overflow page its "
		       "node says",
		    (unsigned long long)pg, w->names[who]);
		return;
	}
	for (uint64_t i = 1; i < n; i++)
		if (!mark(w, pg + i, who))
			return;
}

static void leaf_node(walk *w, const uint8_t *p, size_t off, uint64_t pg,
		      int who, int depth, bool main_db)
{
	const uint8_t *node = p + off;
	uint64_t dsize = get(node, 2) | get(node + 2, 2) << 16;
	unsigned flags = (unsigned)get(node + 4, 2);
	size_t ksize = (size_t)get(node + 6, 2);
	size_t data = off + 8 + ksize;

	if (flags & F_BIGDATA) {
		if (data + 8 > w->psize)
			goto bad;
		overflow(w, get(p + data, 8), who);
	} else if (flags & F_SUBDATA) {
		/* a named database (main), or a key's tree of duplicates */
		if (dsize != DB_SIZE || data + DB_SIZE > w->psize)
			goto bad;
		uint64_t root = get(p + data + DB_ROOT, 8);
		int sub = main_db ? name_of(w, node + 8, ksize) : who;
		if (root != P_INVALID)
			tree(w, root, sub, depth + 1, false);
	} else if (data + dsize > w->psize) {
		goto bad;
	}
	return;
bad:
	say(w, "pages: page %llu of %s holds a node that does not fit it",
	    (unsigned long long)pg, w->names[who]);
}

static void tree(walk *w, uint64_t pg, int who, int depth, bool main_db)
{
	if (depth > MAX_DEPTH) {
		say(w, "pages: %s is deeper than %d levels", w->names[who],
		    MAX_DEPTH);
		return;
	}
	if (!mark(w, pg, who))
		return;
	const uint8_t *p = w->map + pg * w->psize;
	unsigned flags = (unsigned)get(p + 10, 2);
	size_t lower = (size_t)get(p + 12, 2), upper = (size_t)get(p + 14, 2);
	if (get(p, 8) != pg || lower < PAGEHDRSZ || lower > upper ||
	    upper > w->psize || !(flags & (P_BRANCH | P_LEAF))) {
		say(w, "pages: page %llu of %s is not a page of its tree "
		       "(number %llu, flags 0x%x)",
		    (unsigned long long)pg, w->names[who],
		    (unsigned long long)get(p, 8), flags);
		return;
	}
	if (flags & P_LEAF2) /* duplicates of a fixed size: no children */
		return;
	size_t n = (lower - PAGEHDRSZ) / 2;
	for (size_t i = 0; i < n; i++) {
		size_t off = (size_t)get(p + PAGEHDRSZ + 2 * i, 2);
		if (off < upper || off + 8 > w->psize) {
			say(w, "pages: page %llu of %s has a node outside it",
			    (unsigned long long)pg, w->names[who]);
			return;
		}
		if (flags & P_BRANCH)
			tree(w, get(p + off, 2) | get(p + off + 2, 2) << 16 |
					get(p + off + 4, 2) << 32,
			     who, depth + 1, main_db);
		else
			leaf_node(w, p, off, pg, who, depth, main_db);
	}
}

/* ---- roots that would abort LMDB --------------------------------------
 *
 * LMDB asserts (mdb_page_search: `root > 1`), and so aborts the process,
 * when it searches a tree whose root is page 0 or 1, its meta pages.  No
 * commit makes one; a flipped bit in a meta page or in a named database's
 * record can.  Such a root is refused before LMDB reads the tree: the
 * meta page's two at open, a named database's at each open of it.
 * Offsets are LMDB 0.9's on 64-bit hosts, as for the walk below. */

static bool root_ok(const uint8_t *rec)
{
	uint64_t root;
	memcpy(&root, rec + DB_ROOT, 8);
	return root == P_INVALID || root > 1;
}

int tl_dbi_open(MDB_txn *txn, const char *name, unsigned flags,
		MDB_dbi *dbi)
{
	MDB_dbi main_db;
	MDB_val k = { strlen(name), (void *)name }, v;
	/* Opening reads the record, not the tree: a key that is no database
	 * is MDB_INCOMPATIBLE as before. */
	int rc = mdb_dbi_open(txn, name, flags, dbi);
	if (!rc && mdb_dbi_open(txn, NULL, 0, &main_db) == 0 &&
	    mdb_get(txn, main_db, &k, &v) == 0 && v.mv_size == DB_SIZE &&
	    !root_ok(v.mv_data))
		rc = MDB_CORRUPTED;
	return rc;
}

/* 0, or a storage error when the meta page LMDB reads names page 0 or 1
 * as the root of the free list or the main database.  The page is that
 * of the txnid a read transaction gets (LMDB reads meta txnid & 1), read
 * twice and taken only when both reads are alike and of that txnid: a
 * commit of another process may rewrite it meanwhile (then try again;
 * under a writer that never lets up, leave it to LMDB).  64-bit hosts
 * only: the offsets are LMDB 0.9's there. */
int tl_pages_roots_check(tl_db *db, tl_err *err)
{
	MDB_stat st;
	mdb_filehandle_t fd;
	uint8_t meta[2][PAGEHDRSZ + META_SIZE];
	if (sizeof(size_t) != 8 || mdb_env_stat(db->env, &st) ||
	    mdb_env_get_fd(db->env, &fd))
		return 0; /* LMDB's own reads say what is wrong */
	for (int tries = 0; tries < 8; tries++) {
		MDB_txn *txn;
		if (tl_env_begin(db, MDB_RDONLY, &txn))
			return 0;
		uint64_t id = mdb_txn_id(txn), got;
		mdb_txn_abort(txn);
		off_t at = (off_t)(id & 1) * st.ms_psize;
		if (pread(fd, meta[0], sizeof meta[0], at) !=
			    (ssize_t)sizeof meta[0] ||
		    pread(fd, meta[1], sizeof meta[1], at) !=
			    (ssize_t)sizeof meta[1])
			return 0;
		memcpy(&got, meta[0] + PAGEHDRSZ + META_TXNID, 8);
		if (got != id || memcmp(meta[0], meta[1], sizeof meta[0]))
			continue; /* rewritten meanwhile */
		for (int d = 0; d < 2; d++)
			if (!root_ok(meta[0] + PAGEHDRSZ + META_DBS +
				     d * DB_SIZE))
				return tl_err_set(err, TL_ESTORAGE, "storage",
						  "meta page %d names a meta "
						  "page as the root of %s (the "
						  "data file is damaged: copy "
						  "data.mdb as it is for "
						  "evidence, and restore it "
						  "from a backup)",
						  (int)(id & 1),
						  d ? "the main database"
						    : "the free list");
		return 0;
	}
	return 0;
}

/* The txnid of the meta page at m, read from the map each time. */
static uint64_t txnid_at(const uint8_t *m)
{
	const volatile uint8_t *v = m + META_TXNID;
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = v[i];
	return get(b, 8);
}

/* The meta page of the commit txn reads, copied: false when another
 * writer's commits have overwritten it since txn began.  A commit writes
 * the meta page with one pwrite, its txnid last: a copy taken while one
 * lands can hold new roots beside the old txnid, so check() reads the
 * txnid again once the walk is done, and trusts the walk only then. */
static bool meta_of(walk *w, MDB_txn *txn, uint8_t meta[META_SIZE])
{
	uint64_t id = (uint64_t)mdb_txn_id(txn);
	for (int i = 0; i < 2; i++) {
		const uint8_t *m = w->map + (size_t)i * w->psize + PAGEHDRSZ;
		if (txnid_at(m) != id)
			continue;
		const volatile uint8_t *v = m;
		for (size_t b = 0; b < META_SIZE; b++)
			meta[b] = v[b];
		w->meta_at = m;
		w->txnid = id;
		return txnid_at(m) == id;
	}
	return false;
}

static int check(tl_db *db, MDB_txn *txn, walk *w, tl_err *err)
{
	MDB_stat st;
	MDB_envinfo info;
	struct stat fs;
	mdb_filehandle_t fd;
	uint8_t meta[META_SIZE];
	int rc;

	if ((rc = mdb_env_stat(db->env, &st)) ||
	    (rc = mdb_env_info(db->env, &info)) ||
	    (rc = mdb_env_get_fd(db->env, &fd)))
		return tl_mdb_err(err, rc, "pages");
	if (fstat(fd, &fs) != 0)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "pages: cannot stat data.mdb");
	w->psize = st.ms_psize;
	w->npages = (uint64_t)fs.st_size / w->psize;
	if (w->npages < 2)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "pages: data.mdb is shorter than its two "
				  "meta pages");
	w->maplen = (size_t)(w->npages * w->psize);
	void *m = mmap(NULL, w->maplen, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "pages: cannot map data.mdb");
	w->map = m;
	if (!meta_of(w, txn, meta)) {
		/* Commit 0 is the empty file's, which no meta page holds
		 * once a writer has committed: LMDB's table of readers is
		 * behind the file (tl_env_begin), and no try would do. */
		if (mdb_txn_id(txn) == 0 && txnid_at(w->map + PAGEHDRSZ) &&
		    txnid_at(w->map + w->psize + PAGEHDRSZ))
			return tl_mdb_err(err, TL_MDB_STALE_TABLE, "pages");
		return TL_EAGAIN;
	}
	/* The last page may lie past the file's end: LMDB leaves pages
	 * unwritten that were freed in the transaction that took them.  It
	 * does not lie past the map. */
	w->last_pg = get(meta + META_LAST_PG, 8);
	if (w->last_pg >= info.me_mapsize / w->psize) {
		say(w, "pages: the meta page's last page (%llu) is past the "
		       "map (%llu pages)",
		    (unsigned long long)w->last_pg,
		    (unsigned long long)(info.me_mapsize / w->psize));
		w->last_pg = w->npages - 1;
	}
	w->seen = calloc((size_t)(w->last_pg / 8 + 1), 1);
	w->owner = calloc((size_t)(w->last_pg + 1), sizeof *w->owner);
	if (!w->seen || !w->owner)
		return tl_err_oom(err);
	snprintf(w->names[0], sizeof w->names[0], "the free list");
	snprintf(w->names[1], sizeof w->names[1], "the main database");
	w->nnames = 2;
	for (int i = 0; i < 2; i++) {
		uint64_t root = get(meta + META_DBS + i * DB_SIZE + DB_ROOT, 8);
		if (root != P_INVALID)
			tree(w, root, i, 0, i == 1);
	}
	/* The free list's records: a count, then that many page numbers. */
	MDB_cursor *c;
	MDB_val k, v;
	if ((rc = mdb_cursor_open(txn, 0, &c)))
		return tl_mdb_err(err, rc, "pages: the free list");
	/* A page the list names twice, or a meta page, LMDB would hand out
	 * twice, or over a meta page (which it asserts on, and aborts). */
	uint8_t *freed = calloc((size_t)(w->last_pg / 8 + 1), 1);
	if (!freed) {
		mdb_cursor_close(c);
		return tl_err_oom(err);
	}
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		const uint8_t *ids = v.mv_data;
		uint64_t n = v.mv_size >= 8 ? get(ids, 8) : 0;
		if (v.mv_size < 8 || n > v.mv_size / 8 - 1) {
			say(w, "pages: a record of the free list is malformed");
			continue;
		}
		for (uint64_t i = 1; i <= n; i++) {
			uint64_t pg = get(ids + 8 * i, 8);
			if (pg > w->last_pg)
				say(w, "pages: the free list names page %llu, "
				       "past the last page in use (%llu)",
				    (unsigned long long)pg,
				    (unsigned long long)w->last_pg);
			else if (pg < 2)
				say(w, "pages: the free list names page %llu, "
				       "a meta page: the next write may "
				       "overwrite it",
				    (unsigned long long)pg);
			else if (freed[pg / 8] & (1u << (pg % 8)))
				say(w, "pages: the free list names page %llu "
				       "twice: two writes may take it",
				    (unsigned long long)pg);
			else if (w->seen[pg / 8] & (1u << (pg % 8)))
				say(w, "pages: page %llu of %s is on the free "
				       "list: the next write may overwrite it",
				    (unsigned long long)pg,
				    w->names[w->owner[pg]]);
			if (pg <= w->last_pg)
				freed[pg / 8] |= (uint8_t)(1u << (pg % 8));
		}
	}
	free(freed);
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) /* LMDB's own checks of the list's pages */
		say(w, "pages: the free list cannot be read: %s",
		    mdb_strerror(rc));
	/* Problems are said only from a meta page that was whole all along
	 * (a walk from a torn one could see what is not there).  A clean
	 * walk stands: under a steady writer the page is soon rewritten,
	 * and every walk would start over. */
	return w->problems && txnid_at(w->meta_at) != w->txnid ? TL_EAGAIN
							       : 0;
}

int tl_pages_check(tl_db *db, void (*fn)(void *arg, const char *fmt, ...),
		   void *arg, tl_progress_fn progress, void *progress_arg,
		   tl_err *err)
{
	/* Another writer's two commits overwrite the meta page of the
	 * commit a reader reads: then read the next one. */
	for (int tries = 0;; tries++) {
		MDB_txn *txn;
		walk *w = calloc(1, sizeof *w);
		if (!w)
			return tl_err_oom(err);
		w->progress = progress;
		w->progress_arg = progress_arg;
		int rc = tl_read_begin(db, &txn, err);
		if (!rc) {
			rc = check(db, txn, w, err);
			mdb_txn_abort(txn);
		}
		int problems = w->problems;
		for (int i = 0; !rc && i < problems && i < MAX_SAID; i++)
			fn(arg, "%s", w->said[i]);
		if (w->map)
			munmap((void *)w->map, w->maplen);
		free(w->seen);
		free(w->owner);
		free(w);
		if (rc == TL_EAGAIN && tries < 20)
			continue;
		if (rc == TL_EAGAIN)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "pages: the workspace changed under "
					  "every try; verify again");
		return rc ? rc : problems;
	}
}
