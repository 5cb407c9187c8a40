/*
 * bulk.c - a rebuild's write buffer (a "sink"): the puts a view makes
 * while its new generation is filled are collected in memory, sorted by
 * key and written in key order, with MDB_APPEND wherever the key is past
 * the last one the database holds.  Pages are then filled once, left to
 * right, instead of being split and rewritten by random inserts.
 *
 * Records live in an arena (u16 key length | u32 value length | key |
 * value); an item per record holds its arena offset, its key length and
 * 8 bytes of its key taken at the current sort depth.  The sort is a radix
 * sort on those 8 bytes: a run larger than the CPU's caches hold is split
 * on its leading byte (most significant first, bytes that every item
 * shares skipped), and runs that fit are sorted LSD on the bytes left;
 * then the same sort at depth + 8 on each run of items whose 8 bytes tie.
 * Small runs go to a merge sort with the full comparison (prefix, key,
 * then the order of the puts).  Equal keys keep the order of their puts, so when one
 * key was put twice the later put is written (a database without
 * MDB_DUPSORT keeps the last value, as mdb_put would).
 *
 * Memory is bounded (an external merge sort): when a rebuild's sink holds
 * more than tl_rebuild_mem bytes, each database's records are sorted and
 * written to a temporary file as a sorted run (tl_sink_spill), and the
 * sink is emptied.  The final write merges the runs and what is left in
 * memory, so that the database is still filled left to right with
 * MDB_APPEND however large the view.  The file is made in the workspace
 * (next to the data it becomes; /tmp may be a small tmpfs), unnamed
 * (O_TMPFILE, else unlinked at once), so that nothing outlives the
 * process (but, without O_TMPFILE, a kill between making and unlinking
 * it).  Its records have the arena's form; of a key put several
 * times in a run (outside MDB_DUPSORT) only the last operation is kept,
 * and across runs the newest one wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "internal.h"

/* 256 MiB: past it, sorted runs cost a rebuild no time that this machine
 * class shows (benchmarks.md, 0.3.21), and 1 GiB per view held up to 3
 * GiB more at a million tasks. */
size_t tl_rebuild_mem = (size_t)256 << 20;
size_t tl_sort_cached = 16384;
atomic_ulong tl_sink_spills;
size_t tl_sink_txn_bytes = TL_SINK_TXN_BYTES;

#define RADIX_MIN 1024 /* smaller runs: merge_sort */
#define PREFETCH 8      /* records ahead */
#define REC_HDR 6
#define DEL_BIT 0x80000000u /* in the value length: a deletion */

typedef struct item {
	uint64_t pfx; /* key bytes [depth, depth + 8), big-endian */
	uint64_t ref; /* the record's arena offset | its key length << 48 */
} item;

#define REF_OFF ((UINT64_C(1) << 48) - 1)

static inline uint64_t item_off(const item *it)
{
	return it->ref & REF_OFF;
}

/* Kept in the item, so that a sort reads the arena only for the bytes
 * it compares. */
static inline size_t item_klen(const item *it)
{
	return (size_t)(it->ref >> 48);
}

typedef struct run {
	uint64_t off, len; /* bytes of the spill file */
	uint64_t n;        /* records in them */
} run;

typedef struct sink_db {
	uint8_t *arena;
	size_t len, cap, arena_res; /* res: reserved bytes (buf_grow) */
	item *items;
	size_t n, ncap, items_res;
	unsigned flags;           /* the database's MDB_DUPSORT etc. */
	bool sorted;              /* items are in key order */
	run *runs;                /* spilled, oldest first */
	size_t nruns, rcap;
} sink_db;

struct tl_sink {
	const char *name; /* the view's, for errors */
	const char *dir;  /* where runs are spilled (NULL: $TMPDIR, /tmp) */
	int fd;           /* the spill file, or -1 */
	uint8_t *spill_buf; /* SPILL_BUF bytes, once a spill needed them */
	uint64_t fsize;   /* its bytes */
	size_t ndbs;
	size_t bytes;     /* in memory */
	size_t appended, inserted; /* puts with and without MDB_APPEND */
	size_t deleted;
	/* tl_sink_on_write's: told the bytes of records gone through */
	void (*on_write)(void *arg, uint64_t bytes);
	void *on_write_arg;
	struct {
		size_t n[TL_VIEW_DBS_MAX], len[TL_VIEW_DBS_MAX], bytes;
	} mark; /* tl_sink_mark */
	sink_db db[TL_VIEW_DBS_MAX];
};

/*
 * The sinks' two growing buffers.  A rebuild fills gigabytes, each page
 * written once: grown by realloc and faulted in 4 KiB at a time, the
 * faults took about a third of a rebuild's CPU (perf).  Where the system
 * allows, a buffer is instead a range of address space reserved once
 * (pages are taken only as they are touched, so the range costs nothing
 * but addresses) and advised for transparent huge pages: it grows in
 * place, never copied, one fault per 2 MiB.  Where a reservation fails
 * (RLIMIT_AS, no such call), the heap as before.
 */
size_t tl_sink_reserve = (size_t)4 << 30; /* tests make it small; 0: off */

static void *buf_grow(void *p, size_t *res, size_t cap, size_t ncap)
{
#if defined(__linux__) && defined(MAP_NORESERVE)
	size_t r = tl_sink_reserve;
	if (*res && ncap <= *res)
		return p;
	if (!p && r && ncap <= r) {
		void *q = mmap(NULL, r, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		if (q != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
			(void)madvise(q, r, MADV_HUGEPAGE);
#endif
			*res = r;
			return q;
		}
	}
	if (*res) { /* past a reservation: onto the heap */
		void *q = malloc(ncap);
		if (q) {
			memcpy(q, p, cap);
			munmap(p, *res);
			*res = 0;
		}
		return q;
	}
#else
	(void)cap;
	(void)res;
#endif
	return realloc(p, ncap);
}

static void buf_free(void *p, size_t *res)
{
#if defined(__linux__) && defined(MAP_NORESERVE)
	if (*res) {
		munmap(p, *res);
		*res = 0;
		return;
	}
#else
	(void)res;
#endif
	free(p);
}

tl_sink *tl_sink_new(const char *name, const unsigned *flags, size_t ndbs)
{
	tl_sink *s = calloc(1, sizeof *s);
	if (!s || ndbs > TL_VIEW_DBS_MAX) {
		free(s);
		return NULL;
	}
	s->name = name;
	s->fd = -1;
	s->ndbs = ndbs;
	for (size_t i = 0; i < ndbs; i++)
		s->db[i].flags = flags ? flags[i] : 0;
	return s;
}

size_t tl_sink_keep = (size_t)16 << 20;
size_t tl_sink_tell = (size_t)1 << 20;

size_t tl_sink_held(const tl_sink *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->ndbs; i++)
		n += s->db[i].cap + s->db[i].ncap * sizeof(item);
	return n;
}

void tl_sink_spill_dir(tl_sink *s, const char *dir)
{
	s->dir = dir;
}

static void spill_close(tl_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->fsize = 0;
	for (size_t i = 0; i < s->ndbs; i++)
		s->db[i].nruns = 0;
}

void tl_sink_reset(tl_sink *s)
{
	spill_close(s);
	for (size_t i = 0; i < s->ndbs; i++) {
		sink_db *d = &s->db[i];
		d->n = d->len = 0;
		d->sorted = false;
		/* do not hold on to big ones */
		if (d->cap + d->ncap * sizeof(item) > tl_sink_keep) {
			buf_free(d->arena, &d->arena_res);
			buf_free(d->items, &d->items_res);
			d->arena = NULL;
			d->items = NULL;
			d->cap = d->ncap = 0;
		}
	}
	s->bytes = 0;
}

void tl_sink_mark(tl_sink *s)
{
	for (size_t i = 0; i < s->ndbs; i++) {
		s->mark.n[i] = s->db[i].n;
		s->mark.len[i] = s->db[i].len;
	}
	s->mark.bytes = s->bytes;
}

void tl_sink_rollback(tl_sink *s)
{
	for (size_t i = 0; i < s->ndbs; i++) {
		s->db[i].n = s->mark.n[i];
		s->db[i].len = s->mark.len[i];
	}
	s->bytes = s->mark.bytes;
}

size_t tl_sink_bytes(const tl_sink *s)
{
	return s->bytes;
}

uint64_t tl_sink_pending(const tl_sink *s)
{
	uint64_t n = s->fsize; /* every database's runs */
	for (size_t i = 0; i < s->ndbs; i++)
		n += s->db[i].len;
	return n;
}

void tl_sink_on_write(tl_sink *s, void (*fn)(void *arg, uint64_t bytes),
		      void *arg)
{
	s->on_write = fn;
	s->on_write_arg = arg;
}

bool tl_sink_empty(const tl_sink *s)
{
	return s->bytes == 0 && s->fsize == 0;
}

void tl_sink_free(tl_sink *s)
{
	if (!s)
		return;
	spill_close(s);
	free(s->spill_buf);
	for (size_t i = 0; i < s->ndbs; i++) {
		buf_free(s->db[i].arena, &s->db[i].arena_res);
		buf_free(s->db[i].items, &s->db[i].items_res);
		free(s->db[i].runs);
	}
	free(s);
}

static int sink_op(tl_sink *s, size_t db, const void *k, size_t klen,
		   const void *v, size_t vlen, bool del)
{
	if (db >= s->ndbs || klen == 0 || klen > TL_KEY_MAX ||
	    s->db[db].len > REF_OFF - 65536 ||
	    vlen >= DEL_BIT || (del && (s->db[db].flags & MDB_DUPSORT)))
		return TL_EINVALID;
	sink_db *d = &s->db[db];
	size_t need = REC_HDR + klen + vlen;
	if (d->len + need > d->cap) {
		size_t ncap = d->cap ? d->cap : 1 << 16;
		while (ncap < d->len + need)
			ncap *= 2;
		uint8_t *na = buf_grow(d->arena, &d->arena_res, d->len, ncap);
		if (!na)
			return TL_ESTORAGE;
		d->arena = na;
		d->cap = ncap;
	}
	if (d->n == d->ncap) {
		size_t ncap = d->ncap ? d->ncap * 2 : 4096;
		item *ni = buf_grow(d->items, &d->items_res,
				    d->n * sizeof *ni, ncap * sizeof *ni);
		if (!ni)
			return TL_ESTORAGE;
		d->items = ni;
		d->ncap = ncap;
	}
	uint8_t *p = d->arena + d->len;
	uint16_t kl = (uint16_t)klen;
	uint32_t vl = (uint32_t)vlen | (del ? DEL_BIT : 0);
	memcpy(p, &kl, 2);
	memcpy(p + 2, &vl, 4);
	memcpy(p + REC_HDR, k, klen);
	if (vlen)
		memcpy(p + REC_HDR + klen, v, vlen);
	d->items[d->n++] = (item){ 0, d->len | (uint64_t)klen << 48 };
	d->sorted = false;
	d->len += need;
	s->bytes += need + sizeof(item);
	return 0;
}

int tl_sink_put(tl_sink *s, size_t db, const void *k, size_t klen,
		const void *v, size_t vlen)
{
	return sink_op(s, db, k, klen, v, vlen, false);
}

int tl_sink_del(tl_sink *s, size_t db, const void *k, size_t klen)
{
	return sink_op(s, db, k, klen, NULL, 0, true);
}

/* ---- sorting ------------------------------------------------------------ */

static inline const uint8_t *rec_key(const uint8_t *arena, uint64_t off)
{
	return arena + off + REC_HDR;
}

static uint64_t key_pfx(const uint8_t *arena, const item *it, size_t depth)
{
	size_t kl = item_klen(it);
	const uint8_t *k = rec_key(arena, item_off(it));
	if (kl >= depth + 8)
		return tl_get_be64(k + depth);
	uint64_t x = 0;
	for (size_t i = 0; i < 8; i++)
		x = x << 8 | (depth + i < kl ? k[depth + i] : 0);
	return x;
}

typedef struct sort_ctx {
	const uint8_t *arena;
	size_t depth; /* every key compared agrees on bytes [0, depth) */
} sort_ctx;

/* LMDB's default order (memcmp, then shorter first), then the order of
 * the puts. */
static inline int item_cmp(const void *pa, const void *pb, void *arg)
{
	const sort_ctx *c = arg;
	const item *a = pa, *b = pb;
	if (a->pfx != b->pfx)
		return a->pfx < b->pfx ? -1 : 1;
	size_t la = item_klen(a), lb = item_klen(b);
	size_t ra = la > c->depth ? la - c->depth : 0;
	size_t rb = lb > c->depth ? lb - c->depth : 0;
	int r = memcmp(rec_key(c->arena, item_off(a)) + c->depth,
		       rec_key(c->arena, item_off(b)) + c->depth,
		       ra < rb ? ra : rb);
	if (r)
		return r;
	if (la != lb)
		return la < lb ? -1 : 1;
	return item_off(a) < item_off(b) ? -1 : item_off(a) > item_off(b);
}

/* Runs under RADIX_MIN: a merge sort with the comparison inlined (most
 * comparisons end at the prefix, without reading the arena), insertion
 * sort below 16.  item_cmp is a total order, so stability is moot. */
static void merge_sort(const sort_ctx *c, item *a, item *tmp, size_t n)
{
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			item x = a[i];
			size_t j = i;
			for (; j > 0 && item_cmp(&a[j - 1], &x, (void *)c) > 0;
			     j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	size_t h = n / 2;
	merge_sort(c, a, tmp, h);
	merge_sort(c, a + h, tmp + h, n - h);
	if (item_cmp(&a[h - 1], &a[h], (void *)c) <= 0)
		return; /* already in order */
	memcpy(tmp, a, n * sizeof *a);
	size_t i = 0, j = h, o = 0;
	while (i < h && j < n)
		a[o++] = item_cmp(&tmp[j], &tmp[i], (void *)c) < 0 ? tmp[j++]
								    : tmp[i++];
	while (i < h)
		a[o++] = tmp[i++];
	while (j < n)
		a[o++] = tmp[j++];
}

/* Sort a[0, n) by pfx alone, whose bytes above byte `hi` (7 is the most
 * significant) are the same for every item: an LSD radix sort on bytes
 * hi..0, passes whose byte is the same for every item skipped.  Used on
 * runs small enough to stay in the CPU's caches while it scatters. */
static void lsd_sort(item *a, item *tmp, size_t n, int hi)
{
	if (n <= 32) { /* insertion sort */
		for (size_t i = 1; i < n; i++) {
			item x = a[i];
			size_t j = i;
			for (; j > 0 && a[j - 1].pfx > x.pfx; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	size_t cnt[8][256];
	memset(cnt, 0, (size_t)(hi + 1) * sizeof cnt[0]);
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b <= hi; b++)
			cnt[b][a[i].pfx >> (8 * b) & 0xff]++;
	item *src = a, *dst = tmp;
	for (int b = 0; b <= hi; b++) {
		if (cnt[b][src[0].pfx >> (8 * b) & 0xff] == n)
			continue; /* every item has the same byte here */
		size_t pos[256], sum = 0;
		for (int d = 0; d < 256; d++) {
			pos[d] = sum;
			sum += cnt[b][d];
		}
		for (size_t i = 0; i < n; i++)
			dst[pos[src[i].pfx >> (8 * b) & 0xff]++] = src[i];
		item *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
}

/* Sort a[0, n) by pfx alone (bytes above `hi` equal, as for lsd_sort).
 * A large run is split on its most significant differing byte (one pass
 * over it) into 256 runs, each sorted on the bytes below: the later
 * passes then scatter within the caches, where an LSD sort of the whole
 * run would scatter over all of its memory eight times. */
static void radix_sort(item *a, item *tmp, size_t n, int hi)
{
	if (n <= tl_sort_cached) {
		lsd_sort(a, tmp, n, hi);
		return;
	}
	for (; hi >= 0; hi--) {
		size_t cnt[256] = { 0 }, pos[256], sum = 0;
		int sh = 8 * hi;
		for (size_t i = 0; i < n; i++)
			cnt[a[i].pfx >> sh & 0xff]++;
		if (cnt[a[0].pfx >> sh & 0xff] == n)
			continue;
		for (int d = 0; d < 256; d++) {
			pos[d] = sum;
			sum += cnt[d];
		}
		for (size_t i = 0; i < n; i++)
			tmp[pos[a[i].pfx >> sh & 0xff]++] = a[i];
		memcpy(a, tmp, n * sizeof *a);
		if (hi == 0)
			return;
		for (size_t d = 0, at = 0; d < 256; at += cnt[d++])
			if (cnt[d] > 1)
				radix_sort(a + at, tmp + at, cnt[d], hi - 1);
		return;
	}
}

static void sort_items(const uint8_t *arena, item *a, item *tmp, size_t n,
		       size_t depth)
{
	sort_ctx ctx = { arena, depth };

	for (size_t i = 0; i < n; i++) {
		/* Records are visited in sorted order, not arena order:
		 * ask for them ahead of time. */
		if (i + PREFETCH < n)
			__builtin_prefetch(arena + item_off(&a[i + PREFETCH]) +
					   REC_HDR + depth);
		a[i].pfx = key_pfx(arena, &a[i], depth);
	}
	if (n < RADIX_MIN) {
		merge_sort(&ctx, a, tmp, n);
		return;
	}
	radix_sort(a, tmp, n, 7);
	/* Runs that tie on these 8 bytes: on to the next 8, unless no key
	 * of the run goes past them (then only length and order remain). */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		bool longer = item_klen(&a[i]) > depth + 8;
		while (j < n && a[j].pfx == a[i].pfx) {
			longer |= item_klen(&a[j]) > depth + 8;
			j++;
		}
		if (j - i > 1) {
			if (longer)
				sort_items(arena, a + i, tmp + i, j - i,
					   depth + 8);
			else
				merge_sort(&ctx, a + i, tmp + i, j - i);
		}
		i = j;
	}
}

/* ---- sorting a database ------------------------------------------------- */

static int key_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	int r = memcmp(a, b, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

static int db_sort(sink_db *d)
{
	if (d->sorted || d->n < 2) {
		d->sorted = true;
		return 0;
	}
	item *tmp = malloc(d->n * sizeof *tmp);
	if (!tmp)
		return TL_ESTORAGE;
	sort_items(d->arena, d->items, tmp, d->n, 0);
	free(tmp);
	d->sorted = true;
	return 0;
}

int tl_sink_sort(tl_sink *s)
{
	for (size_t i = 0; i < s->ndbs; i++)
		if (db_sort(&s->db[i]))
			return TL_ESTORAGE;
	return 0;
}

/* An LMDB failure writing view `name`: a full map is TL_EAGAIN (the
 * engine grows it and reruns the transaction or rebuild). */
static int view_mdb_err(const char *name, int rc, tl_err *err)
{
	if (rc == MDB_MAP_FULL)
		return tl_err_set(err, TL_EAGAIN, "storage",
				  "the map is full (view %s)", name);
	if (rc == TL_MDB_STALE_TABLE) { /* a commit's next transaction */
		char what[80];
		snprintf(what, sizeof what, "view %s", name);
		return tl_mdb_err(err, rc, what);
	}
	return tl_err_set(err, TL_ESTORAGE, "storage", "view %s: %s", name,
			  rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
}

static int mdb_fail(tl_sink *s, int rc, tl_err *err)
{
	return view_mdb_err(s->name, rc, err);
}

/* Of several operations on one key (outside MDB_DUPSORT) the last wins:
 * is item i followed by another on its key? */
static bool superseded(const sink_db *d, size_t i)
{
	if ((d->flags & MDB_DUPSORT) || i + 1 >= d->n)
		return false;
	const item *it = &d->items[i], *nx = &d->items[i + 1];
	return item_klen(nx) == item_klen(it) &&
	       !memcmp(rec_key(d->arena, item_off(nx)),
		       rec_key(d->arena, item_off(it)), item_klen(it));
}

static size_t rec_size(const uint8_t *p)
{
	uint16_t kl;
	uint32_t vl;
	memcpy(&kl, p, 2);
	memcpy(&vl, p + 2, 4);
	return REC_HDR + kl + (vl & ~DEL_BIT);
}

static int rec_cmp(const uint8_t *a, const uint8_t *b)
{
	uint16_t la, lb;
	memcpy(&la, a, 2);
	memcpy(&lb, b, 2);
	return key_cmp(a + REC_HDR, la, b + REC_HDR, lb);
}

/* ---- spilling sorted runs ------------------------------------------------ */

/* strerror for any thread (a second thread of a rebuild spills too). */
static const char *errstr(int e, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, n);
#else
	return strerror_r(e, buf, n) ? "unknown error" : buf;
#endif
}

/* A failure reading the spill file back (an errno). */
static int run_err(const tl_sink *s, int e, tl_err *err)
{
	char b[128];
	if (e == ENOMEM)
		return tl_err_oom(err);
	return tl_err_set(err, TL_ESTORAGE, "storage",
			  "view %s: reading its sorted runs: %s", s->name,
			  errstr(e, b, sizeof b));
}

/* Make the spill file in dir: unnamed, else named and unlinked at once
 * (tl_spill_named: always so, for tests). */
bool tl_spill_named;

static int spill_open_in(const char *dir)
{
	int fd;
#ifdef O_TMPFILE
	if (!tl_spill_named &&
	    (fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
		return fd;
#endif
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/.tasklog-sort.XXXXXX", dir) >=
	    (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* (A kill between the two calls leaves the file behind; nothing
	 * reads such names, and only file systems without O_TMPFILE get
	 * here.) */
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		(void)unlink(path);
	return fd;
}

/* In the workspace, else (a directory that takes no file: no permission,
 * no inode left) $TMPDIR or /tmp. */
static int spill_open(tl_sink *s)
{
	const char *dirs[3] = { s->dir, getenv("TMPDIR"), "/tmp" };
	int e = 0;
	for (size_t i = 0; i < 3; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		if ((s->fd = spill_open_in(dirs[i])) >= 0)
			return 0;
		if (!e)
			e = errno; /* the first place's reason */
	}
	errno = e;
	return -1;
}

static int spill_out(tl_sink *s, const uint8_t *p, size_t n)
{
	if (s->fsize + n > (uint64_t)INT64_MAX ||
	    (sizeof(off_t) < 8 && s->fsize + n > (uint64_t)INT32_MAX)) {
		errno = EFBIG;
		return -1;
	}
	while (n) {
		ssize_t w = pwrite(s->fd, p, n, (off_t)s->fsize);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		s->fsize += (uint64_t)w;
	}
	return 0;
}

#define SPILL_BUF ((size_t)1 << 20)
enum { E_NOMEM = 1, E_IO }; /* of db_spill */

/* Append d's records, sorted, to the spill file as one run. */
static int db_spill(tl_sink *s, sink_db *d, uint8_t *buf)
{
	size_t bl = 0;

	if (!d->n)
		return 0;
	if (db_sort(d))
		return E_NOMEM;
	if (d->nruns == d->rcap) {
		size_t nc = d->rcap ? 2 * d->rcap : 16;
		run *nr = realloc(d->runs, nc * sizeof *nr);
		if (!nr)
			return E_NOMEM;
		d->runs = nr;
		d->rcap = nc;
	}
	uint64_t start = s->fsize, written = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (i + PREFETCH < d->n)
			__builtin_prefetch(d->arena +
					   item_off(&d->items[i + PREFETCH]));
		if (superseded(d, i))
			continue;
		const uint8_t *p = d->arena + item_off(&d->items[i]);
		size_t n = rec_size(p);
		written++;
		if (bl + n > SPILL_BUF) {
			if (spill_out(s, buf, bl))
				return E_IO;
			bl = 0;
		}
		if (n > SPILL_BUF) { /* a big value: as it is */
			if (spill_out(s, p, n))
				return E_IO;
			continue;
		}
		memcpy(buf + bl, p, n);
		bl += n;
	}
	if (bl && spill_out(s, buf, bl))
		return E_IO;
	d->runs[d->nruns++] = (run){ start, s->fsize - start, written };
	s->bytes -= d->len + d->n * sizeof(item);
	d->len = d->n = 0;
	d->sorted = false;
	return 0;
}

/* A failure leaves the sink half spilled: its rebuild gives it up. */
int tl_sink_spill(tl_sink *s, tl_err *err)
{
	int rc = 0;

	if (!s->spill_buf && !(s->spill_buf = malloc(SPILL_BUF)))
		return tl_err_oom(err);
	if (s->fd < 0 && spill_open(s))
		rc = E_IO;
	for (size_t i = 0; !rc && i < s->ndbs; i++)
		rc = db_spill(s, &s->db[i], s->spill_buf);
	int e = errno;
	char b[128];
	if (rc == E_NOMEM)
		return tl_err_oom(err);
	if (rc)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "view %s: writing a sorted run: %s%s",
				  s->name, errstr(e, b, sizeof b),
				  e == EFBIG ? " (" TL_EFBIG_HINT ")" : "");
	atomic_fetch_add_explicit(&tl_sink_spills, 1, memory_order_relaxed);
	return 0;
}

/* ---- merging runs and memory ---------------------------------------------
 * A source is a run of the spill file, read through a buffer of its own
 * (pread: no mapping of the whole file, whose size has no bound but the
 * disk), or the sink's memory; a heap orders them by their current
 * record's key, the newest source first among equal keys.  The record
 * merge_next returns stays valid until its next call. */

#define RUN_BUF ((size_t)256 << 10)

typedef struct msrc {
	const uint8_t *rec;    /* the current record, NULL at the end */
	size_t age;            /* higher: newer (memory is the newest) */
	bool mem;
	size_t i;              /* memory: the next item */
	int fd;                /* a run: */
	uint64_t off, end;     /* its bytes not read yet */
	uint8_t *buf;          /* what was read: [at, len) not yet taken */
	size_t cap, at, len;
} msrc;

typedef struct merge {
	const sink_db *d;
	size_t nsrc;   /* sources: the base, the runs, the memory */
	msrc *src;
	msrc **heap;
	size_t n;      /* sources in the heap */
	msrc *taken;   /* the source of the record last returned, not in it */
	bool based;    /* src[0] is the database's own entries (db_base) */
	int err;       /* errno of a read that failed */
	msrc mem;      /* no runs (every append's commit): memory alone */
} merge;

/* Have [at, at + need) of s's buffer hold the run's next bytes: moves
 * what is left to the front, grows the buffer for a big record and reads
 * on.  0, or an errno (EIO for a run cut short). */
static int run_fill(msrc *m, size_t need)
{
	if (m->len - m->at >= need)
		return 0;
	if (m->at) {
		memmove(m->buf, m->buf + m->at, m->len - m->at);
		m->len -= m->at;
		m->at = 0;
	}
	if (need > m->cap) {
		uint8_t *nb = realloc(m->buf, need);
		if (!nb)
			return ENOMEM;
		m->buf = nb;
		m->cap = need;
	}
	while (m->len < need) {
		size_t want = m->cap - m->len;
		if (want > m->end - m->off)
			want = (size_t)(m->end - m->off);
		if (!want)
			return EIO; /* the run ends inside a record */
		ssize_t r = pread(m->fd, m->buf + m->len, want, (off_t)m->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? errno : EIO;
		m->len += (size_t)r;
		m->off += (uint64_t)r;
	}
	return 0;
}

/* Move m to its next record (rec NULL at its end); 0 or an errno. */
static int src_next(const sink_db *d, msrc *m)
{
	m->rec = NULL;
	if (!m->mem) {
		int e;
		if (m->at == m->len && m->off == m->end)
			return 0;
		if ((e = run_fill(m, REC_HDR)) ||
		    (e = run_fill(m, rec_size(m->buf + m->at))))
			return e;
		m->rec = m->buf + m->at;
		m->at += rec_size(m->rec);
		return 0;
	}
	while (m->i < d->n && superseded(d, m->i))
		m->i++;
	if (m->i >= d->n)
		return 0;
	if (m->i + PREFETCH < d->n)
		__builtin_prefetch(d->arena +
				   item_off(&d->items[m->i + PREFETCH]));
	m->rec = d->arena + item_off(&d->items[m->i++]);
	return 0;
}

static bool src_before(const msrc *a, const msrc *b)
{
	int c = rec_cmp(a->rec, b->rec);
	return c ? c < 0 : a->age > b->age;
}

static void heap_down(merge *g, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < g->n && src_before(g->heap[l], g->heap[m]))
			m = l;
		if (l + 1 < g->n && src_before(g->heap[l + 1], g->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		msrc *t = g->heap[i];
		g->heap[i] = g->heap[m];
		g->heap[m] = t;
		i = m;
	}
}

static void heap_push(merge *g, msrc *m)
{
	size_t i = g->n++;
	g->heap[i] = m;
	while (i && src_before(g->heap[i], g->heap[(i - 1) / 2])) {
		size_t p = (i - 1) / 2;
		g->heap[i] = g->heap[p];
		g->heap[p] = m;
		i = p;
	}
}

/* Take the top source out of the heap. */
static msrc *heap_pop(merge *g)
{
	msrc *top = g->heap[0];
	g->heap[0] = g->heap[--g->n];
	if (g->n)
		heap_down(g, 0);
	return top;
}

/* Move source m on and put it back in the heap unless it has ended. */
static int src_advance(merge *g, msrc *m)
{
	int e = src_next(g->d, m);
	if (e)
		return e;
	if (m->rec)
		heap_push(g, m);
	return 0;
}

/* base (when not NULL, base_len bytes of records in key order, which
 * the merge then owns): the oldest operations, older than the runs. */
static int merge_open(tl_sink *s, const sink_db *d, uint8_t *base,
		      size_t base_len, merge *g)
{
	size_t nb = base ? 1 : 0;
	size_t k = nb + d->nruns + 1;
	int e;
	*g = (merge){ .d = d };
	if (k == 1) { /* no heap: merge_next walks the memory */
		g->mem.mem = true;
		return 0;
	}
	if (!(g->src = calloc(k, sizeof *g->src)) ||
	    !(g->heap = calloc(k, sizeof *g->heap))) {
		free(base);
		return ENOMEM;
	}
	g->nsrc = k;
	g->based = nb;
	for (size_t j = 0; j < k; j++) {
		msrc *m = &g->src[j];
		m->age = j;
		if (j < nb) { /* all of it read already: no file */
			m->fd = -1;
			m->buf = base;
			m->cap = m->len = base_len;
		} else if (j - nb < d->nruns) {
			const run *r = &d->runs[j - nb];
			m->fd = s->fd;
			m->off = r->off;
			m->end = m->off + r->len;
			m->cap = r->len < RUN_BUF ? (size_t)r->len : RUN_BUF;
			if (!(m->buf = malloc(m->cap ? m->cap : 1)))
				return ENOMEM;
		} else {
			m->mem = true;
		}
		if ((e = src_advance(g, m)))
			return e;
	}
	return 0;
}

static void merge_close(merge *g)
{
	for (size_t j = 0; j < g->nsrc; j++)
		free(g->src[j].buf);
	free(g->src);
	free(g->heap);
}

/* Whether the record merge_next returned last is one of the database's
 * own entries, read by db_base, not an operation of the sink. */
static bool merge_from_base(const merge *g)
{
	return g->based && g->taken == &g->src[0];
}

/* The next operation in key order (of several on one key outside
 * MDB_DUPSORT, the newest), or NULL at the end or on a failure (g->err
 * then set). */
static const uint8_t *merge_next(merge *g)
{
	if (!g->src) { /* memory alone: its records stay where they are */
		(void)src_next(g->d, &g->mem);
		return g->mem.rec;
	}
	if (g->taken) { /* its record has been used: on to its next */
		msrc *m = g->taken;
		g->taken = NULL;
		if ((g->err = src_advance(g, m)))
			return NULL;
	}
	if (!g->n)
		return NULL;
	msrc *top = heap_pop(g);
	if (!(g->d->flags & MDB_DUPSORT))
		while (g->n && !rec_cmp(g->heap[0]->rec, top->rec)) {
			/* an older operation on the key: superseded */
			if ((g->err = src_advance(g, heap_pop(g))))
				return NULL;
		}
	g->taken = top;
	return top->rec;
}

/* ---- writing ------------------------------------------------------------ */


/*
 * A database about to take at least as many operations as it holds
 * entries (tl_sink_rewrite_min, 1: that many) is written anew.  Sorted
 * puts among a tree's keys split its pages in the middle (LMDB appends
 * only past the last key), which leaves them half full: 300,000 tasks
 * imported into a workspace of 10,000 wrote a 1.24 GB file where a new
 * workspace took 0.80 GB, and took 40 % longer.  Its entries are read
 * into *base as the oldest operations (a later one on a key wins), the
 * database is emptied, and everything goes in as appends.  Not with
 * renew (a rebuild's transactions are committed as they fill: the
 * database would be seen half written), nor with MDB_DUPSORT.  The
 * operations counted are those in memory and in the sorted runs (an
 * append's, spilled between requests since 0.3.46: counting memory
 * alone, or none with runs, left a big import's keys put among the old
 * ones, 1.24 GB where 0.84 GB do).
 */
size_t tl_sink_rewrite_min = 1;

static int db_base(const sink_db *d, MDB_txn *txn, MDB_dbi dbi, bool renew,
		   uint8_t **base, size_t *base_len)
{
	MDB_stat st;
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*base = NULL;
	*base_len = 0;
	uint64_t ops = d->n; /* in memory, and in the runs spilled */
	for (size_t i = 0; i < d->nruns; i++)
		ops += d->runs[i].n;
	if (renew || !tl_sink_rewrite_min || (d->flags & MDB_DUPSORT) || !ops)
		return 0;
	if ((rc = mdb_stat(txn, dbi, &st)))
		return rc;
	if (!st.ms_entries || st.ms_entries > ops / tl_sink_rewrite_min)
		return 0;
	if ((rc = mdb_cursor_open(txn, dbi, &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size > TL_KEY_MAX || v.mv_size >= DEL_BIT) {
			rc = EINVAL; /* none that a sink could hold */
			break;
		}
		size_t need = REC_HDR + k.mv_size + v.mv_size;
		if (len + need > cap) {
			size_t ncap = cap ? cap : 1 << 16;
			while (ncap < len + need)
				ncap *= 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		uint16_t kl = (uint16_t)k.mv_size;
		uint32_t vl = (uint32_t)v.mv_size;
		memcpy(buf + len, &kl, 2);
		memcpy(buf + len + 2, &vl, 4);
		memcpy(buf + len + REC_HDR, k.mv_data, k.mv_size);
		if (v.mv_size)
			memcpy(buf + len + REC_HDR + k.mv_size, v.mv_data,
			       v.mv_size);
		len += need;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = mdb_drop(txn, dbi, 0);
	if (rc) {
		free(buf);
		return rc;
	}
	*base = buf;
	*base_len = len;
	return 0;
}

/* Write d's operations (its runs and its memory, merged) in key order; of
 * several on one key the last wins.  A put past the database's last key
 * is an MDB_APPEND. */
static int write_db(tl_sink *s, sink_db *d, tl_db *db, MDB_txn **txn,
		    bool renew, MDB_dbi dbi, tl_err *err)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t last[TL_KEY_MAX];
	size_t last_len = 0, since = 0;
	bool has_last, tail = false;
	merge g;
	int rc;
	/* For on_write: the bytes to go through (memory and runs), those
	 * told, those gone through since. */
	uint64_t to_tell = d->len, told = 0, untold = 0;

	uint8_t *base;
	size_t base_len;

	if (!d->n && !d->nruns)
		return 0;
	for (size_t i = 0; i < d->nruns; i++)
		to_tell += d->runs[i].len;
	if (db_sort(d))
		return tl_err_oom(err);
	if ((rc = db_base(d, *txn, dbi, renew, &base, &base_len)))
		return mdb_fail(s, rc, err);
	if ((rc = merge_open(s, d, base, base_len, &g))) {
		merge_close(&g);
		return run_err(s, rc, err);
	}
	if ((rc = mdb_cursor_open(*txn, dbi, &c)))
		goto out;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc && rc != MDB_NOTFOUND)
		goto out;
	if ((has_last = rc == 0)) {
		last_len = k.mv_size < sizeof last ? k.mv_size : sizeof last;
		memcpy(last, k.mv_data, last_len);
	}
	rc = 0;
	bool dups = d->flags & MDB_DUPSORT;
	const uint8_t *p;
	while ((p = merge_next(&g))) {
		uint16_t kl;
		uint32_t vl;
		memcpy(&kl, p, 2);
		memcpy(&vl, p + 2, 4);
		/* the sink's bytes, not those of the entries rewritten */
		if (s->on_write && !merge_from_base(&g) &&
		    (untold += rec_size(p)) >= tl_sink_tell) {
			s->on_write(s->on_write_arg, untold);
			told += untold;
			untold = 0;
		}
		if (renew && (since += rec_size(p)) >= tl_sink_txn_bytes) {
			/* A transaction's dirty pages are kept in a sorted
			 * list: keep it short.  (A durable commit: an
			 * unsynced one could be overwritten out of order
			 * by later ones and corrupt the file on a power
			 * loss.) */
			since = 0;
			mdb_cursor_close(c);
			c = NULL;
			rc = mdb_txn_commit(*txn);
			if (!rc) {
				tl_writer_yield();
				rc = tl_env_begin(db, 0, txn);
			}
			if (rc) {
				*txn = NULL;
				goto out;
			}
			if ((rc = mdb_cursor_open(*txn, dbi, &c)))
				goto out;
		}
		k = (MDB_val){ kl, (void *)(p + REC_HDR) };
		/* Keys come sorted and, without MDB_DUPSORT, each once: past
		 * the last key once, past it for good. */
		bool past = !has_last || (!dups && tail) ||
			    key_cmp(p + REC_HDR, kl, last, last_len) > 0;
		tail = past;
		if (vl & DEL_BIT) {
			if (past)
				continue; /* nothing there to delete */
			rc = mdb_del(*txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			if (rc)
				break;
			s->deleted++;
			continue;
		}
		v = (MDB_val){ vl, (void *)(p + REC_HDR + kl) };
		unsigned fl = past && !dups ? MDB_APPEND : 0;
		if ((rc = mdb_cursor_put(c, &k, &v, fl)))
			break;
		if (fl)
			s->appended++;
		else
			s->inserted++;
		if (past && dups) {
			memcpy(last, p + REC_HDR, kl);
			last_len = kl;
			has_last = true;
		}
	}
out:
	if (c)
		mdb_cursor_close(c);
	merge_close(&g);
	if (rc)
		return mdb_fail(s, rc, err);
	if (g.err)
		return run_err(s, g.err, err);
	/* Superseded records were not gone through: the rest told. */
	if (s->on_write && to_tell > told)
		s->on_write(s->on_write_arg, to_tell - told);
	s->bytes -= d->len + d->n * sizeof(item);
	d->len = d->n = 0;
	d->nruns = 0;
	d->sorted = false;
	return 0;
}

void tl_sink_counts(const tl_sink *s, size_t *appended, size_t *inserted)
{
	*appended = s->appended;
	*inserted = s->inserted;
}

int tl_sink_write(tl_sink *s, tl_db *db, MDB_txn **txn, bool renew,
		  const MDB_dbi *dbi, tl_err *err)
{
	for (size_t i = 0; i < s->ndbs; i++) {
		int rc = write_db(s, &s->db[i], db, txn, renew, dbi[i], err);
		if (rc)
			return rc;
	}
	spill_close(s); /* written: its runs are not needed any more */
	return 0;
}


/* ---- what views call ------------------------------------------------------ */

/* A put (del false) or deletion (absent keys are fine) in database db of
 * the view: into its sink when it has one, else directly. */
static int view_write(const tl_view_ctx *vc, size_t db, const void *k,
		      size_t klen, const void *v, size_t vlen, bool del,
		      tl_err *err)
{
	int rc;

	if (vc->sink) {
		if ((rc = sink_op(vc->sink, db, k, klen, v, vlen, del)))
			return tl_err_set(err, rc, "storage",
					  rc == TL_EINVALID
						  ? "view %s: bad write"
						  : "view %s: out of memory",
					  vc->name);
		/* A rebuild's sink past the memory bound goes to a sorted
		 * run on disk (the write merges the runs). */
		if (vc->rebuilding && vc->sink->bytes > tl_rebuild_mem)
			return tl_sink_spill(vc->sink, err);
		return 0;
	}
	MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
	rc = del ? mdb_del(vc->txn, vc->dbi[db], &key, NULL)
		 : mdb_put(vc->txn, vc->dbi[db], &key, &val, 0);
	if (rc && !(del && rc == MDB_NOTFOUND))
		return view_mdb_err(vc->name, rc, err);
	return 0;
}

int tl_view_del(const tl_view_ctx *vc, size_t db, const void *k, size_t klen,
		tl_err *err)
{
	return view_write(vc, db, k, klen, NULL, 0, true, err);
}

int tl_view_put(const tl_view_ctx *vc, size_t db, const void *k, size_t klen,
		const void *v, size_t vlen, tl_err *err)
{
	return view_write(vc, db, k, klen, v, vlen, false, err);
}
