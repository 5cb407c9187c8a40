/*
 * chain.c - the hash chain of a big batch, on a second thread.
 *
 * Each event stores H(previous hash || its canonical bytes) (store.c), so
 * the chain is sequential, but nothing else of an append needs the hash:
 * the views, the fold, the stream index and the results never read it.
 * In a batch of at least tl_chain_min commands, tl_log_append therefore
 * copies each event (hash bytes zero) into this queue instead of hashing
 * and storing it; a thread started for the batch hashes the queue in
 * order while the batch goes on, and tl_chain_sync waits for it and
 * stores the events, in seq order with MDB_APPEND, in the transaction the
 * appends go to.  run_cmds (exec.c) ends the chain before it returns, and
 * whatever reads the log in the write transaction syncs first (a replay
 * of a request made in this batch, tl_chain_sync_to; notifications read),
 * so the log a transaction commits, or reads, is the one inline hashing
 * would have made.  A sync frees the chunks it stored, and a queue of
 * tl_chain_queue_max bytes is synced, so a batch holds at most that much
 * besides its events in LMDB's pages.  The views get the event as it was
 * queued (tl_log_append's buffer, hash bytes zero), never the queued copy,
 * which the hasher writes into.
 *
 * Handing over: the batch's thread writes a record into the last chunk,
 * then publishes the count of records with a release store; the hasher
 * reads the count with acquire, hashes each record in place (its last 32
 * bytes) and publishes its own count.  The hasher sleeps on a condition
 * variable when it has caught up; the batch wakes it every TL_CHAIN_WAKE
 * records, TL_CHAIN_WAKE_BIG in a long batch (a wake per event would cost
 * more than the hash), and when it syncs.  Chunks never move, so records
 * are read where they were written.  A 2-core machine runs the hashes
 * (about a fifth of an append's CPU at batch 10,000, docs/benchmarks.md)
 * beside the rest.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t tl_chain_min = 64;
size_t tl_chain_chunk = (size_t)1 << 20;
size_t tl_chain_queue_max = (size_t)64 << 20;
atomic_ulong tl_chain_started;
atomic_ulong tl_chain_syncs;

/* The batch wakes a sleeping hasher every TL_CHAIN_WAKE records, every
 * TL_CHAIN_WAKE_BIG once it has pushed that many: a wake costs the batch
 * a futex call and the other core an IPI (5 % of a batch of 10,000 at a
 * wake per 64, docs/benchmarks.md), and a hasher woken late in a long
 * batch is only that much more behind at its sync. */
#define TL_CHAIN_WAKE 64
#define TL_CHAIN_WAKE_BIG 512

typedef struct rec {
	uint64_t seq;
	uint32_t len; /* the record's bytes, which follow */
	uint32_t pad;
} rec;

typedef struct chunk {
	struct chunk *next; /* set before a record in it is published */
	size_t cap, used;   /* the batch's thread only */
	atomic_size_t n;    /* records in it */
	uint8_t data[];
} chunk;

/* A position in the queue: the hasher's, and the puts'. */
typedef struct pos {
	chunk *ch;
	size_t off, idx;
} pos;

struct tl_chain {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* the hasher waits for records or stop */
	pthread_cond_t done;  /* the batch waits for the hasher */
	bool sleeping, waiting, stop; /* under mu */
	atomic_size_t published; /* records handed over */
	atomic_size_t hashed;    /* records hashed */
	size_t pushed;           /* = published, the batch's own copy */
	size_t stored;           /* records put into the log */
	uint64_t first_seq;      /* of the first record queued */
	size_t queued;           /* bytes queued since the last sync */
	chunk *head, *tail;      /* head: the hasher's start, then the
				    chunk of the first record not stored */
	pos put;                 /* the next record to store */
	uint8_t prev[TL_HASH_LEN]; /* the hasher's: hash of the last hashed
				      (read by a sync once all are) */
};

static size_t rec_size(size_t len)
{
	return sizeof(rec) + ((len + 7) & ~(size_t)7);
}

static chunk *chunk_new(size_t need)
{
	size_t cap = need > tl_chain_chunk ? need : tl_chain_chunk;
	chunk *c = malloc(sizeof *c + cap);
	if (!c)
		return NULL;
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	atomic_init(&c->n, 0);
	return c;
}

/* The record at p, moving p to the next chunk first when p's is done. */
static rec *at(pos *p)
{
	if (p->idx == atomic_load_explicit(&p->ch->n, memory_order_relaxed)) {
		p->ch = p->ch->next;
		p->off = 0;
		p->idx = 0;
	}
	return (rec *)(void *)(p->ch->data + p->off);
}

static void step(pos *p, const rec *r)
{
	p->off += rec_size(r->len);
	p->idx++;
}

static void *hasher(void *arg)
{
	tl_chain *c = arg;
	/* Read before the first record is hashed, so before tl_chain_sync
	 * can move head on. */
	pos p = { c->head, 0, 0 };
	size_t h = 0;

	for (;;) {
		size_t n = atomic_load_explicit(&c->published,
						memory_order_acquire);
		while (h < n) {
			rec *r = at(&p);
			uint8_t *raw = (uint8_t *)(r + 1);
			uint8_t *hash = raw + r->len - TL_HASH_LEN;
			tl_event_hash(c->prev, raw, r->len, hash);
			memcpy(c->prev, hash, TL_HASH_LEN);
			step(&p, r);
			atomic_store_explicit(&c->hashed, ++h,
					      memory_order_release);
		}
		pthread_mutex_lock(&c->mu);
		if (h == atomic_load_explicit(&c->published,
					      memory_order_relaxed)) {
			if (c->waiting)
				pthread_cond_signal(&c->done);
			if (c->stop) {
				pthread_mutex_unlock(&c->mu);
				return NULL;
			}
			c->sleeping = true;
			pthread_cond_wait(&c->work, &c->mu);
			c->sleeping = false;
		}
		pthread_mutex_unlock(&c->mu);
	}
}

static void chain_free(tl_chain *c)
{
	for (chunk *k = c->head, *next; k; k = next) {
		next = k->next;
		free(k);
	}
	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

bool tl_chain_begin(tl_txn *t)
{
	tl_chain *c = calloc(1, sizeof *c);
	if (!c)
		return false;
	if (pthread_mutex_init(&c->mu, NULL)) {
		free(c);
		return false;
	}
	if (pthread_cond_init(&c->work, NULL)) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		return false;
	}
	if (pthread_cond_init(&c->done, NULL)) {
		pthread_cond_destroy(&c->work);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return false;
	}
	atomic_init(&c->published, 0);
	atomic_init(&c->hashed, 0);
	c->head = c->tail = chunk_new(0);
	memcpy(c->prev, t->prev_hash, TL_HASH_LEN);
	if (!c->head) {
		chain_free(c);
		return false;
	}
	c->put = (pos){ c->head, 0, 0 };
	/* No thread (a process at its limit): the batch hashes inline. */
	if (tl_thread_start(&c->th, hasher, c)) {
		chain_free(c);
		return false;
	}
	t->chain = c;
	atomic_fetch_add_explicit(&tl_chain_started, 1, memory_order_relaxed);
	return true;
}

int tl_chain_push(tl_txn *t, uint64_t seq, const uint8_t *raw, size_t len,
		  tl_err *err)
{
	tl_chain *c = t->chain;
	size_t need = rec_size(len);
	if (len < TL_HASH_LEN || len > UINT32_MAX)
		return tl_err_set(err, TL_EINVALID, "event",
				  "event of %zu bytes", len);
	/* A queue past its bound is stored first (and its chunks freed):
	 * a batch's memory stays that of its events in LMDB's pages. */
	int rc;
	if (c->queued >= tl_chain_queue_max && (rc = tl_chain_sync(t, err)))
		return rc;
	if (c->tail->cap - c->tail->used < need) {
		chunk *k = chunk_new(need);
		if (!k)
			return tl_err_oom(err);
		c->tail->next = k; /* published with the record below */
		c->tail = k;
	}
	if (!c->pushed)
		c->first_seq = seq;
	c->queued += need;
	chunk *k = c->tail;
	rec *r = (rec *)(void *)(k->data + k->used);
	r->seq = seq;
	r->len = (uint32_t)len;
	r->pad = 0;
	memcpy(r + 1, raw, len);
	k->used += need;
	atomic_store_explicit(&k->n,
			      atomic_load_explicit(&k->n, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&c->published, ++c->pushed, memory_order_release);
	if (c->pushed % (c->pushed < TL_CHAIN_WAKE_BIG ? TL_CHAIN_WAKE
						       : TL_CHAIN_WAKE_BIG) == 0) {
		pthread_mutex_lock(&c->mu);
		if (c->sleeping)
			pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->mu);
	}
	return 0;
}

int tl_chain_sync(tl_txn *t, tl_err *err)
{
	tl_chain *c = t->chain;
	if (!c || c->stored == c->pushed)
		return 0;
	pthread_mutex_lock(&c->mu);
	c->waiting = true;
	pthread_cond_signal(&c->work);
	while (atomic_load_explicit(&c->hashed, memory_order_acquire) !=
	       c->pushed)
		pthread_cond_wait(&c->done, &c->mu);
	c->waiting = false;
	pthread_mutex_unlock(&c->mu);

	int rc = tl_txn_cursor(t, t->db->events, &t->c_events);
	if (rc)
		return tl_mdb_err(err, rc, "cursor");
	while (c->stored < c->pushed) {
		rec *r = at(&c->put);
		uint8_t kb[8];
		tl_put_be64(kb, r->seq);
		MDB_val k = { 8, kb }, v = { r->len, r + 1 };
		if ((rc = mdb_cursor_put(t->c_events, &k, &v, MDB_APPEND)))
			return tl_mdb_err(err, rc, "append event");
		step(&c->put, r);
		c->stored++;
	}
	/* hashed == pushed was read with acquire: the hasher's last hash
	 * is visible, and it writes no other until more is pushed */
	memcpy(t->prev_hash, c->prev, TL_HASH_LEN);
	atomic_fetch_add_explicit(&tl_chain_syncs, 1, memory_order_relaxed);
	/* Every record is hashed: the hasher is in the last chunk (a chunk
	 * is made for a record), where the puts are too.  The others go. */
	while (c->head != c->tail) {
		chunk *k = c->head;
		c->head = k->next;
		free(k);
	}
	c->queued = 0;
	return 0;
}

int tl_chain_sync_to(tl_txn *t, uint64_t seq, tl_err *err)
{
	tl_chain *c = t->chain;
	if (!c || c->stored == c->pushed || seq < c->first_seq + c->stored)
		return 0;
	return tl_chain_sync(t, err);
}

void tl_chain_discard(tl_txn *t)
{
	tl_chain *c = t->chain;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	chain_free(c);
	t->chain = NULL;
}

int tl_chain_end(tl_txn *t, tl_err *err)
{
	int rc = tl_chain_sync(t, err);
	tl_chain_discard(t);
	return rc;
}
