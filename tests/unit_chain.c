/*
 * unit_chain.c - Criterion tests of a big batch's hash chain on a second
 * thread (engine/chain.c): the log it stores is the one inline hashing
 * stores (same events, in the same order, every hash chained), reads of
 * the batch's own events inside it (idempotent replays, notifications
 * read) see them, and a batch or a group-commit request that fails, or a
 * full map, leaves no queued event behind.
 *
 * tl_chain_min (internal.h) is the batch size from which the thread is
 * used: SIZE_MAX makes every batch hash inline, for the comparison;
 * tl_chain_started counts the batches that used the thread, so that each
 * test checks which path it took.  A test view checks what apply() sees
 * of an appended event's hash.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "viewtest.h"

#define BATCH 200

/* Client task id number i. */
static void uuid_of(unsigned i, char out[37])
{
	snprintf(out, 37, "0190a000-0000-7000-8000-%012x", i);
}

/* A batch of every kind of command, which reads its own events: returns
 * the number of events it appends.  Its texts live in b. */
typedef struct batch {
	tl_cmd c[BATCH];
	char ids[BATCH][37];
	char titles[BATCH][32];
	char note[32];
	tl_slice nid;
	tl_slice tag;
	size_t n;
} batch;

static size_t batch_make(batch *b, uint64_t head)
{
	size_t n = 0;
	memset(b, 0, sizeof *b);
	b->tag = tl_s("vip");
	for (unsigned i = 0; i < 100; i++) { /* 100 events */
		uuid_of(i, b->ids[n]);
		snprintf(b->titles[n], sizeof b->titles[n], "task %u", i);
		b->c[n] = (tl_cmd){ .kind = TL_TASK_ADD, .id = tl_s(b->ids[n]),
				    .title = tl_s(b->titles[n]),
				    .link = tl_s("lead:42") };
		if (i % 2 == 0) /* bob's notification, from the admin */
			b->c[n].assignee = tl_s("bob");
		n++;
	}
	/* bob's notification of the batch's first task, read twice before
	 * anything else reads the log: the second finds it read by the first
	 * (1 event) */
	snprintf(b->note, sizeof b->note, "%llu",
		 (unsigned long long)(head + 1));
	b->nid = tl_s(b->note);
	for (int k = 0; k < 2; k++)
		b->c[n++] = (tl_cmd){ .kind = TL_NOTIFICATIONS_READ,
				      .id = tl_s("bob"), .ids = &b->nid,
				      .ids_len = 1 };
	for (unsigned i = 0; i < 50; i++) { /* 50 */
		uuid_of(i, b->ids[n]);
		snprintf(b->titles[n], sizeof b->titles[n], "renamed %u", i);
		b->c[n] = (tl_cmd){ .kind = TL_TASK_UPDATE,
				    .id = tl_s(b->ids[n]),
				    .title = tl_s(b->titles[n]) };
		n++;
	}
	for (unsigned i = 50; i < 60; i++) { /* 10 */
		uuid_of(i, b->ids[n]);
		b->c[n] = (tl_cmd){ .kind = TL_TASK_COMPLETE,
				    .id = tl_s(b->ids[n]) };
		n++;
	}
	/* the same request twice under one key: the second is a replay of
	 * an event of this batch (1 event) */
	size_t keyed = n;
	uuid_of(200, b->ids[keyed]);
	for (int k = 0; k < 2; k++)
		b->c[n++] = (tl_cmd){ .kind = TL_TASK_ADD,
				      .id = tl_s(b->ids[keyed]),
				      .title = tl_s("keyed"),
				      .link = tl_s("account:7"),
				      .idempotency_key = tl_s("k-add") };
	/* a member's, whose replay reads the member's event (1 event) */
	for (int k = 0; k < 2; k++)
		b->c[n++] = (tl_cmd){ .kind = TL_MEMBER_UPDATE,
				      .id = tl_s("bob"), .name = tl_s("Bobby"),
				      .idempotency_key = tl_s("k-member") };
	while (n < BATCH) { /* 34 */
		uuid_of((unsigned)(60 + n - 166), b->ids[n]);
		b->c[n] = (tl_cmd){ .kind = TL_TASK_TAG, .id = tl_s(b->ids[n]),
				    .tags = &b->tag, .tags_len = 1 };
		n++;
	}
	b->n = n;
	return 100 + 50 + 10 + 1 + 1 + 1 + 34;
}

/* What an event says, but its id and hash (random, and chained to the
 * id). */
typedef struct ev_copy {
	char type[32], stream[64], actor[32];
	uint32_t version;
	int64_t at;
	uint8_t data[512];
	size_t data_len;
} ev_copy;

typedef struct evs {
	ev_copy e[1024];
	size_t n;
	uint8_t prev[TL_HASH_LEN];
	size_t bad_hashes;
} evs;

static int ev_collect(void *arg, const tl_event *ev)
{
	evs *s = arg;
	cr_assert_lt(s->n, 1024);
	ev_copy *c = &s->e[s->n++];
	cr_assert_lt(ev->data_len, sizeof c->data);
	snprintf(c->type, sizeof c->type, "%.*s", (int)ev->type.len,
		 ev->type.p);
	snprintf(c->stream, sizeof c->stream, "%.*s", (int)ev->stream.len,
		 ev->stream.p);
	snprintf(c->actor, sizeof c->actor, "%.*s", (int)ev->actor_id.len,
		 ev->actor_id.p);
	c->version = ev->version;
	c->at = ev->at_ms;
	memcpy(c->data, ev->data, ev->data_len);
	c->data_len = ev->data_len;
	/* the chain, recomputed here from the stored bytes */
	uint8_t h[TL_HASH_LEN];
	tl_event_hash(s->prev, ev->raw, ev->raw_len, h);
	if (memcmp(h, ev->hash, TL_HASH_LEN) ||
	    memcmp(h, ev->raw + ev->raw_len - TL_HASH_LEN, TL_HASH_LEN))
		s->bad_hashes++;
	memcpy(s->prev, ev->hash, TL_HASH_LEN);
	return 0;
}

/* Run the batch in a fresh workspace with batches of at least min
 * hashing on the thread; the whole log into *out. */
static void run_batch_into(size_t min, evs *out, unsigned long *threaded)
{
	batch *b = calloc(1, sizeof *b);
	tl_result *res = calloc(BATCH, sizeof *res);
	cr_assert(b && res);
	vt_setup();
	uint64_t head = vt_events();
	size_t want = batch_make(b, head);

	tl_chain_min = min;
	unsigned long started = tl_chain_started;
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	tl_err err = { 0 };
	int rc = tl_exec(vt_db, &ctx, b->c, b->n, res, &err);
	*threaded = tl_chain_started - started;
	tl_chain_min = 64;
	cr_assert_eq(rc, 0, "tl_exec: %d at %d, %s: %s", rc, err.index,
		     err.field, err.message);

	cr_assert_eq(vt_events(), head + want);
	/* replays inside the batch gave the first results */
	cr_assert(res[100].appended && !res[101].appended);
	cr_assert(res[162].appended && !res[163].appended);
	cr_assert_eq(res[163].seq, res[162].seq);
	cr_assert_eq(res[163].doc_len, res[162].doc_len);
	cr_assert(!memcmp(res[163].doc, res[162].doc, res[162].doc_len));
	cr_assert(res[164].appended && !res[165].appended);
	cr_assert_eq(res[165].seq, res[164].seq);
	cr_assert(!memcmp(res[165].doc, res[164].doc, res[164].doc_len));
	for (size_t i = 0; i < BATCH; i++)
		tl_result_release(&res[i]);
	cr_assert_eq(vt_verify(), 0);

	memset(out, 0, sizeof *out);
	tl_ctx admin = { 0 };
	cr_assert_eq(tl_log_read(vt_db, &admin, 1, 0, (tl_slice){ 0 },
				 ev_collect, out, &err),
		     0, "tl_log_read: %s", err.message);
	cr_assert_eq(out->n, head + want);
	cr_assert_eq(out->bad_hashes, 0);
	vt_teardown();
	free(res);
	free(b);
}

static void same_log(const evs *x, const evs *y)
{
	cr_assert_eq(x->n, y->n);
	for (size_t i = 0; i < x->n; i++) {
		const ev_copy *a = &x->e[i], *b = &y->e[i];
		cr_assert_str_eq(a->type, b->type, "event %zu", i + 1);
		cr_assert_str_eq(a->stream, b->stream, "event %zu", i + 1);
		cr_assert_str_eq(a->actor, b->actor, "event %zu", i + 1);
		cr_assert_eq(a->version, b->version, "event %zu", i + 1);
		cr_assert_eq(a->at, b->at, "event %zu", i + 1);
		cr_assert_eq(a->data_len, b->data_len, "event %zu", i + 1);
		cr_assert(!memcmp(a->data, b->data, a->data_len), "event %zu",
			  i + 1);
	}
}

Test(chain, a_big_batch_stores_the_log_inline_hashing_stores)
{
	evs *inl = calloc(1, sizeof *inl), *thr = calloc(1, sizeof *thr);
	unsigned long used;
	cr_assert(inl && thr);
	run_batch_into(SIZE_MAX, inl, &used);
	cr_assert_eq(used, 0, "inline run used the thread");
	run_batch_into(BATCH, thr, &used);
	cr_assert_eq(used, 1, "the batch did not use the thread");
	same_log(inl, thr);
	/* the queue in many pieces: a chunk per event */
	tl_chain_chunk = 1;
	run_batch_into(BATCH, thr, &used);
	cr_assert_eq(used, 1, "the batch did not use the thread");
	same_log(inl, thr);
	/* and stored, the chunks behind the last freed, whenever 4 KiB are
	 * queued (chunks of a few events each) */
	tl_chain_chunk = 2048;
	tl_chain_queue_max = 4096;
	unsigned long syncs = tl_chain_syncs;
	run_batch_into(BATCH, thr, &used);
	cr_assert_gt(tl_chain_syncs - syncs, 10);
	tl_chain_queue_max = (size_t)64 << 20;
	tl_chain_chunk = (size_t)1 << 20;
	cr_assert_eq(used, 1, "the batch did not use the thread");
	same_log(inl, thr);
	free(inl);
	free(thr);
}

/* n task.add commands titled "t", the last one with an empty title when
 * bad. */
static tl_cmd *adds(size_t n, bool bad)
{
	tl_cmd *c = calloc(n, sizeof *c);
	cr_assert(c);
	for (size_t i = 0; i < n; i++)
		c[i] = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("t"),
				 .link = tl_s("lead:1"),
				 .assignee = tl_s(i % 3 ? "alice" : "bob") };
	if (bad)
		c[n - 1].title = tl_s("");
	return c;
}

Test(chain, a_failed_big_batch_appends_nothing_and_the_next_chains_on,
     .init = vt_setup, .fini = vt_teardown)
{
	tl_cmd *bad = adds(300, true), *good = adds(300, false);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	tl_err err = { 0 };
	uint64_t before = vt_events();
	unsigned long started = tl_chain_started;
	int rc = tl_exec(vt_db, &ctx, bad, 300, NULL, &err);
	cr_assert_eq(rc, TL_EINVALID);
	cr_assert_eq(err.index, 299);
	cr_assert_str_eq(err.field, "title");
	cr_assert_eq(vt_events(), before);
	cr_assert_eq(tl_exec(vt_db, &ctx, good, 300, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 2);
	cr_assert_eq(vt_events(), before + 300);
	cr_assert_eq(vt_verify(), 0);
	free(bad);
	free(good);
}

Test(chain, a_failed_request_of_a_group_commit_leaves_the_others_chained,
     .init = vt_setup, .fini = vt_teardown)
{
	tl_cmd *bad = adds(150, true), *good = adds(150, false);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	tl_err err = { 0 };
	tl_txn *t;
	uint64_t before = vt_events(), first, end;
	unsigned long started = tl_chain_started;
	cr_assert_eq(tl_txn_begin(vt_db, &t, &err), 0);
	cr_assert_eq(tl_txn_exec(t, &ctx, good, 150, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_txn_exec(t, &ctx, bad, 150, NULL, &err), TL_EINVALID);
	cr_assert_eq(err.index, 149);
	cr_assert_eq(tl_txn_exec(t, &ctx, good, 150, NULL, &err), 0, "%s",
		     err.message);
	tl_txn_seqs(t, &first, &end);
	cr_assert_eq(first, before + 1);
	cr_assert_eq(end, before + 301);
	cr_assert_eq(tl_txn_commit(t, &err), 0, "%s", err.message);
	cr_assert_eq(tl_chain_started - started, 3);
	cr_assert_eq(vt_events(), before + 300);
	cr_assert_eq(vt_verify(), 0);
	free(bad);
	free(good);
}

/* A workspace at VT_T0 with these views and a first map of map bytes (0:
 * the default), and members alice and bob. */
static void ws_with(const tl_view *const *views, size_t n, uint64_t map)
{
	tl_err err = { 0 };
	snprintf(vt_dir, sizeof vt_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(vt_dir));
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .map_size = map, .views = views, .views_len = n };
	cr_assert_eq(tl_db_open(vt_dir, &o, &vt_db, &err), 0, "%s",
		     err.message);
	tl_init_opts io = { .now_ms = VT_T0 };
	cr_assert_eq(tl_db_init(vt_db, &io, &err), 0, "%s", err.message);
	vt_member("alice", "member");
	vt_member("bob", "member");
}

/* Every view, a map of 256 KiB. */
static void small_map_setup(void)
{
	size_t n;
	const tl_view *const *v = tl_views_all(&n);
	ws_with(v, n, 256 << 10);
}

Test(chain, a_full_map_in_a_big_batch_grows_it_and_runs_the_batch_again,
     .init = small_map_setup, .fini = vt_teardown)
{
	enum { N = 3000 };
	tl_cmd *good = adds(N, false);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	tl_err err = { 0 };
	uint64_t before = vt_events();
	size_t map = tl_db_map_size(vt_db);
	/* 3,000 tasks with every view take more than the first map */
	unsigned long started = tl_chain_started;
	cr_assert_eq(tl_exec(vt_db, &ctx, good, N, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_gt(tl_db_map_size(vt_db), map, "the map did not fill");
	cr_assert_gt(tl_chain_started - started, 1,
		     "the batch did not run again");
	cr_assert_eq(vt_events(), before + N);
	cr_assert_eq(vt_verify(), 0);
	free(good);
}

/* Replays of requests made before the batch read events older than its
 * queue: the batch does not wait for its thread for them; a replay of a
 * request of the batch itself does. */
Test(chain, a_replay_waits_for_the_thread_only_for_the_batchs_own_events,
     .init = vt_setup, .fini = vt_teardown)
{
	enum { N = 300, K = 10 };
	tl_cmd *c = adds(N, false);
	tl_result *res = calloc(N, sizeof *res), first[K];
	char keys[K][16];
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	tl_err err = { 0 };
	cr_assert(res);
	for (int i = 0; i < K; i++) {
		snprintf(keys[i], sizeof keys[i], "key-%d", i);
		c[i].idempotency_key = tl_s(keys[i]);
	}
	cr_assert_eq(tl_exec(vt_db, &ctx, c, K, first, &err), 0, "%s",
		     err.message);
	/* the same K requests again, at 100..109 of a big batch */
	for (int i = 0; i < K; i++) {
		c[100 + i] = c[i];
		c[i].idempotency_key = (tl_slice){ 0 };
	}
	uint64_t before = vt_events();
	unsigned long syncs = tl_chain_syncs;
	cr_assert_eq(tl_exec(vt_db, &ctx, c, N, res, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_syncs - syncs, 1, "waited for old events");
	cr_assert_eq(vt_events(), before + N - K);
	for (int i = 0; i < K; i++) {
		cr_assert(!res[100 + i].appended);
		cr_assert_eq(res[100 + i].seq, first[i].seq);
		cr_assert_eq(res[100 + i].doc_len, first[i].doc_len);
		cr_assert(!memcmp(res[100 + i].doc, first[i].doc,
				  first[i].doc_len));
	}
	for (int i = 0; i < N; i++)
		tl_result_release(&res[i]);
	/* a key first used at 50 of the batch, again at 150: one wait */
	c[50].idempotency_key = tl_s("again");
	c[150] = c[50];
	syncs = tl_chain_syncs;
	cr_assert_eq(tl_exec(vt_db, &ctx, c + 1, N - 1, res, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_syncs - syncs, 2);
	cr_assert(res[49].appended && !res[149].appended);
	cr_assert_eq(res[149].seq, res[49].seq);
	for (int i = 0; i < N - 1; i++)
		tl_result_release(&res[i]);
	for (int i = 0; i < K; i++)
		tl_result_release(&first[i]);
	cr_assert_eq(vt_verify(), 0);
	free(res);
	free(c);
}

/* ---- what a view's apply() sees of an appended event's hash ------------ */

static unsigned raw_zero, raw_set, raw_mixed;

static int raw_apply(const tl_view_ctx *vc, const tl_event *ev,
		     const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)before, (void)after, (void)err;
	static const uint8_t zero[TL_HASH_LEN];
	if (vc->rebuilding)
		return 0;
	const uint8_t *in_raw = ev->raw + ev->raw_len - TL_HASH_LEN;
	if (!memcmp(ev->hash, zero, TL_HASH_LEN) &&
	    !memcmp(in_raw, zero, TL_HASH_LEN))
		raw_zero++;
	else if (memcmp(ev->hash, zero, TL_HASH_LEN) &&
		 !memcmp(ev->hash, in_raw, TL_HASH_LEN))
		raw_set++;
	else
		raw_mixed++;
	return 0;
}

static const char *const raw_dbs[] = { "raw" };
static const unsigned raw_flags[] = { 0 };
static tl_view raw_view = { .name = "raw", .version = 1, .dbs = raw_dbs,
			    .db_flags = raw_flags, .dbs_len = 1,
			    .apply = raw_apply };

/* The contract of tasklog_view.h: in a batch hashed on the thread, an
 * appended event's hash and the hash bytes of its raw record are both
 * zero (the queued copy, which the thread writes into, is not what
 * apply() gets); in one hashed inline, both hold the hash. */
Test(chain, a_view_sees_no_hash_in_a_chained_batch_and_the_hash_inline)
{
	const tl_view *views[] = { &raw_view };
	tl_err err = { 0 };
	ws_with(views, 1, 0);
	tl_cmd *c = adds(300, false);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	raw_zero = raw_set = raw_mixed = 0;
	unsigned long started = tl_chain_started;
	cr_assert_eq(tl_exec(vt_db, &ctx, c, 300, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 1);
	cr_assert_eq(raw_zero, 300, "zero %u, set %u, mixed %u", raw_zero,
		     raw_set, raw_mixed);
	cr_assert_eq(tl_exec(vt_db, &ctx, c, 10, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 1);
	cr_assert_eq(raw_set, 10, "zero %u, set %u, mixed %u", raw_zero,
		     raw_set, raw_mixed);
	cr_assert_eq(raw_mixed, 0);
	cr_assert_eq(vt_verify(), 0);
	free(c);
	vt_teardown();
}

/* ---- signals ------------------------------------------------------------ */

static pthread_t main_thread;
static volatile sig_atomic_t on_main, elsewhere;
static unsigned sig_applies;

static void on_usr1(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), main_thread))
		on_main++;
	else
		elsewhere++;
}

/* At the 100th event of the batch (the hash thread running), a signal
 * sent to the process while this thread blocks it: it must wait for this
 * thread, not go to the library's. */
static int sig_apply(const tl_view_ctx *vc, const tl_event *ev,
		     const tl_task *before, const tl_task *after, tl_err *err)
{
	(void)vc, (void)ev, (void)before, (void)after, (void)err;
	if (++sig_applies != 100)
		return 0;
	sigset_t usr1, was;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &was);
	kill(getpid(), SIGUSR1);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	return 0;
}

static const char *const sig_dbs[] = { "sig" };
static tl_view sig_view = { .name = "sig", .version = 1, .dbs = sig_dbs,
			    .db_flags = raw_flags, .dbs_len = 1,
			    .apply = sig_apply };

Test(chain, a_signal_to_the_process_does_not_go_to_the_hash_thread)
{
	const tl_view *views[] = { &sig_view };
	tl_err err = { 0 };
	ws_with(views, 1, 0);
	main_thread = pthread_self();
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	tl_cmd *c = adds(300, false);
	tl_ctx ctx = { .now_ms = VT_T0 + VT_HOUR };
	sig_applies = 0;
	unsigned long started = tl_chain_started;
	cr_assert_eq(tl_exec(vt_db, &ctx, c, 300, NULL, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_chain_started - started, 1);
	cr_assert_eq(elsewhere, 0, "the hash thread took the signal");
	cr_assert_eq(on_main, 1);
	free(c);
	vt_teardown();
}

/* What a thread of the library blocks: what is sent to the process, not
 * what its own faults raise (a SIGBUS of a map cut short must reach the
 * program's handler, as tasklog's; blocked, it would kill the process). */
static void *mask_of(void *arg)
{
	pthread_sigmask(SIG_BLOCK, NULL, arg);
	return NULL;
}

Test(chain, a_library_thread_blocks_signals_to_the_process_not_its_faults)
{
	sigset_t mask;
	pthread_t th;
	sigemptyset(&mask);
	cr_assert_eq(tl_thread_start(&th, mask_of, &mask), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	static const int sent[] = { SIGINT, SIGTERM, SIGPIPE, SIGUSR1,
				    SIGHUP, SIGCHLD };
	static const int faults[] = { SIGBUS, SIGSEGV, SIGFPE, SIGILL };
	for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
		cr_assert(sigismember(&mask, sent[i]), "signal %d open",
			  sent[i]);
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		cr_assert(!sigismember(&mask, faults[i]), "signal %d blocked",
			  faults[i]);
	/* and the caller's own mask is as it was */
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	cr_assert(!sigismember(&now, SIGUSR1));
}
