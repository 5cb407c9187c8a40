/*
 * unit_ids.c - the engine's own view, ids (engine/ids.c): a task named by
 * the end of its id is found with one seek, and answers as the scan of
 * the streams database's task keys (a handle without views) answers, for
 * every end of every id, ends shared by several ids included; a task of
 * the same batch is found; a view behind the log or absent (a workspace
 * of an earlier release) leaves reads to the scan until a writable open
 * rebuilds it; verify compares it; a damaged key is a storage error.
 */
#include <ctype.h>
#include <sys/wait.h>
#include <time.h>

#include "viewtest.h"
#include "internal.h"

TestSuite(ids, .init = vt_setup, .fini = vt_teardown);

#define NIDS 240

static char ids[NIDS][37];

/* Random ids (UUID form, lower case) whose ends repeat: each takes the
 * last 0..19 hex digits of the one before it, so that ends of every
 * length name one, two or more tasks. */
static void make_ids(unsigned seed)
{
	static const char hex[] = "0123456789abcdef";
	srand(seed);
	for (int i = 0; i < NIDS; i++) {
		char d[32];
		for (int j = 0; j < 32; j++)
			d[j] = hex[rand() % 16];
		int keep = i ? rand() % 20 : 0;
		for (int j = 32 - keep; j < 32; j++) /* the end of the last */
			d[j] = ids[i - 1][j < 8 ? j : j < 12 ? j + 1
					   : j < 16 ? j + 2 : j < 20 ? j + 3
					   : j + 4];
		snprintf(ids[i], 37, "%.8s-%.4s-%.4s-%.4s-%.12s", d, d + 8,
			 d + 12, d + 16, d + 20);
	}
}

static void add_with_id(const char *id)
{
	tl_cmd c = { .kind = TL_TASK_ADD, .id = tl_s(id), .title = tl_s("T"),
		     .link = tl_s("lead:1") };
	vt_exec(NULL, VT_T0 + VT_MIN, &c, NULL);
}

/* How many ids end in the text end (and the first). */
static int ending_in(const char *end, const char **first)
{
	size_t n = strlen(end);
	int k = 0;
	for (int i = 0; i < NIDS; i++)
		if (!strcmp(ids[i] + 36 - n, end) && !k++)
			*first = ids[i];
	return k;
}

/* The answer of a look-up by end, as the tests compare them. */
typedef struct answer {
	int rc;
	char id[37];  /* found (rc 0) */
	tl_err err;   /* else */
} answer;

static answer look_up(tl_db *db, const char *end)
{
	answer a = { 0 };
	uint8_t *doc = NULL;
	size_t len;
	tl_err err = { 0 };
	a.rc = tl_task_get(db, NULL, tl_s(end), &doc, &len, &err);
	if (!a.rc) {
		vt_doc d = { doc, len };
		snprintf(a.id, sizeof a.id, "%s", vt_str(&d, "id"));
		free(doc);
	} else {
		a.err = err;
	}
	return a;
}

/* An answer is right for end: the one id that ends so, not found for
 * none, invalid naming two that end so for more. */
static void check_answer(const answer *a, const char *end, const char *how)
{
	const char *first = NULL;
	int k = ending_in(end, &first);
	if (k == 0) {
		cr_assert_eq(a->rc, TL_ENOTFOUND, "%s '%s': %d %s", how, end,
			     a->rc, a->err.message);
		cr_assert_str_eq(a->err.field, "id");
	} else if (k == 1) {
		cr_assert_eq(a->rc, 0, "%s '%s': %d %s", how, end, a->rc,
			     a->err.message);
		cr_assert_str_eq(a->id, first, "%s '%s'", how, end);
	} else {
		cr_assert_eq(a->rc, TL_EINVALID, "%s '%s' (%d ids): %d %s", how,
			     end, k, a->rc, a->err.message);
		cr_assert_str_eq(a->err.field, "id");
		/* the two ids it names both end so */
		const char *p = strstr(a->err.message, "(");
		cr_assert_not_null(p, "%s", a->err.message);
		char one[37], two[37];
		cr_assert_eq(sscanf(p, "(%36[0-9a-f-], %36[0-9a-f-])", one, two),
			     2, "%s", a->err.message);
		size_t n = strlen(end);
		cr_assert(strcmp(one, two) && !strcmp(one + 36 - n, end) &&
				  !strcmp(two + 36 - n, end),
			  "%s '%s': %s", how, end, a->err.message);
	}
}

/* Every end of every id (6 hex digits and more, not from a dash), and
 * each with one digit changed, through the view and then through the
 * scan of a handle without views: right answers both ways. */
Test(ids, every_end_of_every_id_is_found_as_the_scan_finds_it,
     .timeout = 120)
{
	unsigned seed = (unsigned)time(NULL);
	cr_log_info("seed %u", seed);
	make_ids(seed);
	for (int i = 0; i < NIDS; i++)
		add_with_id(ids[i]);

	for (int pass = 0; pass < 2; pass++) {
		tl_db *db = vt_db;
		const char *how = pass ? "scan" : "view";
		if (pass) { /* the same workspace without views */
			vt_close();
			tl_err err;
			tl_open_opts o = { .flags = TL_OPEN_NOSYNC };
			cr_assert_eq(tl_db_open(vt_dir, &o, &db, &err), 0, "%s",
				     err.message);
		}
		unsigned long seeks = tl_ids_seeks, asked = 0;
		for (int i = 0; i < NIDS; i += 3) {
			for (size_t n = 6; n < 36; n++) {
				const char *end = ids[i] + 36 - n;
				if (*end == '-')
					continue;
				char other[37];
				snprintf(other, sizeof other, "%s", end);
				size_t at = (size_t)rand() % n;
				if (other[at] == '-')
					at = (at + 1) % n;
				other[at] = other[at] == '0' ? '1' : '0';
				answer a = look_up(db, end);
				check_answer(&a, end, how);
				a = look_up(db, other);
				if (other[0] != '-')
					check_answer(&a, other, how);
				asked += 2;
			}
		}
		/* through the view: one seek each; the scan makes none */
		cr_assert_eq(tl_ids_seeks - seeks, pass ? 0 : asked,
			     "%s: %lu seeks for %lu", how, tl_ids_seeks - seeks,
			     asked);
		if (pass)
			tl_db_close(db);
	}
}

/* Upper case and the dashes of the UUID form: the same task. */
Test(ids, an_end_in_upper_case_or_with_dashes_is_found)
{
	const char *id = "01890a5d-ac96-774b-bcce-b30209abcdef";
	add_with_id(id);
	unsigned long seeks = tl_ids_seeks;
	answer a = look_up(vt_db, "B30209ABCDEF");
	cr_assert_eq(a.rc, 0, "%s", a.err.message);
	cr_assert_str_eq(a.id, id);
	a = look_up(vt_db, "4b-bcce-b30209abcdef");
	cr_assert_eq(a.rc, 0, "%s", a.err.message);
	cr_assert_str_eq(a.id, id);
	a = look_up(vt_db, "01890a5d-ac96-774b-bcce-b30209abcdef"); /* whole */
	cr_assert_str_eq(a.id, id);
	cr_assert_eq(tl_ids_seeks - seeks, 2);
}

/* A batch that adds a task and then names it by the end of its id: the
 * view holds it already (its writes are not deferred to the commit).
 * Two of the batch that end alike: refused, nothing appended. */
Test(ids, a_task_of_the_same_batch_is_found_by_its_end)
{
	tl_cmd c[3] = {
		{ .kind = TL_TASK_ADD, .title = tl_s("New"),
		  .link = tl_s("lead:1"),
		  .id = tl_s("01890a5d-ac96-774b-bcce-b30209abcdef") },
		{ .kind = TL_TASK_COMPLETE, .id = tl_s("b30209abcdef") },
	};
	tl_result res[3];
	tl_err err = { 0 };
	tl_ctx ctx = { .now_ms = VT_T0 + VT_MIN };
	unsigned long seeks = tl_ids_seeks;
	cr_assert_eq(tl_exec(vt_db, &ctx, c, 2, res, &err), 0, "%s",
		     err.message);
	cr_assert_eq(tl_ids_seeks - seeks, 1);
	vt_doc d = { res[1].doc, res[1].doc_len };
	cr_assert_str_eq(vt_str(&d, "id"), "01890a5d-ac96-774b-bcce-b30209abcdef");
	cr_assert_str_eq(vt_str(&d, "status"), "completed");
	tl_result_release(&res[0]);
	tl_result_release(&res[1]);

	uint64_t before = vt_events();
	c[0].id = tl_s("01890a5e-ac96-774b-bcce-b30209abcdef");
	c[1] = (tl_cmd){ .kind = TL_TASK_ADD, .title = tl_s("Other"),
			 .link = tl_s("lead:1") };
	c[2] = (tl_cmd){ .kind = TL_TASK_DELETE, .id = tl_s("09abcdef") };
	cr_assert_eq(tl_exec(vt_db, &ctx, c, 3, res, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "id");
	cr_assert(strstr(err.message, "ends more than one task id"), "%s",
		  err.message);
	cr_assert_eq(vt_events(), before);
	answer a = look_up(vt_db, "09abcdef"); /* the batch left nothing */
	cr_assert_eq(a.rc, 0, "%s", a.err.message);
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
}

static tl_db *open_views(unsigned flags)
{
	tl_db *db;
	tl_err err = { 0 };
	size_t n;
	tl_open_opts o = { .flags = flags };
	o.views = tl_views_all(&n);
	o.views_len = n;
	cr_assert_eq(tl_db_open(vt_dir, &o, &db, &err), 0, "%s", err.message);
	return db;
}

/* abcdef's task added with the views, then fedcba's by a handle
 * without them: the view is behind the log.  The workspace is left
 * closed. */
static void leave_the_view_behind(void)
{
	tl_err err = { 0 };
	tl_open_opts bare = { .flags = TL_OPEN_NOSYNC };
	add_with_id("01890a5d-ac96-774b-bcce-b30209abcdef");
	vt_close();
	cr_assert_eq(tl_db_open(vt_dir, &bare, &vt_db, &err), 0, "%s",
		     err.message);
	add_with_id("01890a5d-ac96-774b-bcce-b30209fedcba");
	vt_close();
}

/* Tasks added by a handle without views: the view is behind the log. A
 * read-only handle with views finds them by the scan (the view may not
 * answer without them); a writable open rebuilds it, and it answers. */
Test(ids, a_view_behind_the_log_leaves_look_ups_to_the_scan)
{
	leave_the_view_behind();

	tl_db *db = open_views(TL_OPEN_RDONLY);
	cr_assert_not(tl_db_views_current(db));
	unsigned long seeks = tl_ids_seeks;
	answer a = look_up(db, "b30209fedcba");
	cr_assert_eq(a.rc, 0, "%s", a.err.message);
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209fedcba");
	a = look_up(db, "abcdef");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	a = look_up(db, "b30209");
	cr_assert_eq(a.rc, TL_ENOTFOUND);
	cr_assert_eq(tl_ids_seeks, seeks, "the view answered while behind");
	tl_db_close(db);

	vt_db = open_views(TL_OPEN_NOSYNC); /* rebuilds it */
	a = look_up(vt_db, "b30209fedcba");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209fedcba");
	cr_assert_eq(tl_ids_seeks - seeks, 1);
	cr_assert_eq(vt_verify(), 0);
}

/* A workspace of a release before the view (0.3.40 and earlier): no
 * meta of it, no databases.  The first writable open builds it from the
 * log; until then a read-only handle finds tasks by the scan. */
Test(ids, a_workspace_without_the_view_gets_it_at_its_first_writable_open)
{
	add_with_id("01890a5d-ac96-774b-bcce-b30209abcdef");
	vt_close();
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, rev;
	vt_raw_open("ids", "rev", &env, &txn, &rev);
	cr_assert_eq(mdb_drop(txn, rev, 1), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	cr_assert_eq(mdb_del(txn, meta, &(MDB_val){ 8, "view:ids" }, NULL), 0);
	cr_assert_eq(mdb_del(txn, meta, &(MDB_val){ 12, "view_seq:ids" },
			     NULL),
		     0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	tl_db *db = open_views(TL_OPEN_RDONLY);
	unsigned long seeks = tl_ids_seeks;
	answer a = look_up(db, "09abcdef");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	cr_assert_eq(tl_ids_seeks, seeks);
	tl_db_close(db);

	vt_db = open_views(TL_OPEN_NOSYNC);
	a = look_up(vt_db, "09abcdef");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	cr_assert_eq(tl_ids_seeks - seeks, 1);
	cr_assert_eq(vt_verify(), 0);
}

static void count_problem(void *arg, const char *p)
{
	if (strstr(p, "ids"))
		++*(int *)arg;
}

/* Two tasks whose ids end in abcdef and fedcba, the handle closed, and
 * the view's database open raw in a write transaction (vt_raw_open). */
static void two_tasks_then_raw_view(MDB_env **env, MDB_txn **txn,
				    MDB_dbi *rev)
{
	add_with_id("01890a5d-ac96-774b-bcce-b30209abcdef");
	add_with_id("01890a5d-ac96-774b-bcce-b30209fedcba");
	vt_close();
	vt_raw_open("ids", "rev", env, txn, rev);
}

/* verify rebuilds the view and compares: an id missing from it, or one
 * it holds for no task, is a problem naming it.  A key that is not 16
 * bytes where a look-up meets it: a storage error naming the view. */
Test(ids, verify_finds_a_damaged_view_and_a_look_up_a_bad_key)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi rev;
	uint8_t key[17];
	two_tasks_then_raw_view(&env, &txn, &rev);
	/* abcdef's key: its digits from the last, two to a byte */
	static const uint8_t first[8] = { 0xfe, 0xdc, 0xba, 0x90, 0x20,
					  0x3b, 0xec, 0xcb };
	MDB_cursor *c;
	MDB_val k, v;
	cr_assert_eq(mdb_cursor_open(txn, rev, &c), 0);
	k = (MDB_val){ 8, (void *)first };
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
	cr_assert_eq(k.mv_size, 16);
	cr_assert_eq(memcmp(k.mv_data, first, 8), 0, "not the key expected");
	memcpy(key, k.mv_data, 16);
	cr_assert_eq(mdb_cursor_del(c, 0), 0); /* abcdef gone */
	mdb_cursor_close(c);
	key[0] = 0x11; /* and an id of no task */
	cr_assert_eq(mdb_put(txn, rev, &(MDB_val){ 16, key },
			     &(MDB_val){ 0, "" }, 0),
		     0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	vt_open();
	int problems = 0;
	tl_err err = { 0 };
	int n = tl_verify(vt_db, NULL, count_problem, &problems, &err);
	cr_assert_gt(n, 0, "verify found nothing: %s", err.message);
	cr_assert_gt(problems, 0, "no problem names the view ids");
	/* the view answers as it is: abcdef is not in it */
	answer a = look_up(vt_db, "b30209abcdef");
	cr_assert_eq(a.rc, TL_ENOTFOUND);
	/* a rebuild of it mends it */
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_rebuild(vt_db, &ctx, (const char *const[]){ "ids" }, 1,
				NULL, NULL, &err),
		     0, "%s", err.message);
	a = look_up(vt_db, "b30209abcdef");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	cr_assert_eq(vt_verify(), 0);
	vt_close();

	/* a 17-byte key just past where fedcba's end seeks */
	vt_raw_open("ids", "rev", &env, &txn, &rev);
	static const uint8_t fed[3] = { 0xab, 0xcd, 0xef };
	memset(key, 0, sizeof key);
	memcpy(key, fed, 3);
	cr_assert_eq(mdb_put(txn, rev, &(MDB_val){ 17, key },
			     &(MDB_val){ 0, "" }, 0),
		     0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	vt_open();
	a = look_up(vt_db, "fedcba");
	cr_assert_eq(a.rc, TL_ESTORAGE, "%d %s", a.rc, a.err.message);
	cr_assert(strstr(a.err.message, "view ids"), "%s", a.err.message);
}

/* Another process rebuilds the view (a new generation switched in)
 * while this handle is open: its next look-up does not read through the
 * dropped generation's handle (the scan answers, or the view once this
 * handle has caught up), and finds the task. */
Test(ids, a_rebuild_by_another_process_leaves_look_ups_right)
{
	add_with_id("01890a5d-ac96-774b-bcce-b30209abcdef");
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		tl_db *db;
		tl_err err;
		size_t n;
		tl_open_opts o = { .flags = TL_OPEN_NOSYNC };
		o.views = tl_views_all(&n);
		o.views_len = n;
		/* (this process's copy of vt_db is its parent's: not used) */
		if (tl_db_open(vt_dir, &o, &db, &err))
			_exit(1);
		tl_ctx ctx = { .actor = "admin" };
		int rc = tl_rebuild(db, &ctx, (const char *const[]){ "ids" }, 1,
				    NULL, NULL, &err);
		tl_db_close(db);
		_exit(rc ? 2 : 0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	for (int i = 0; i < 2; i++) {
		answer a = look_up(vt_db, "09abcdef");
		cr_assert_eq(a.rc, 0, "%s", a.err.message);
		cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	}
	cr_assert_eq(vt_verify(), 0);
}

/* Set meta key to a u64 (BE), the workspace closed. */
static void set_mark(const char *key, uint64_t v)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	uint8_t b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	vt_raw_db("meta", &env, &txn, &meta);
	cr_assert_eq(mdb_put(txn, meta, &(MDB_val){ strlen(key), (void *)key },
			     &(MDB_val){ 8, b }, 0),
		     0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* A workspace whose log was empty when this release made its views, then
 * written by a release that moves the shared mark and the marks of the
 * views it holds but knows nothing of ids (0.3.4 to 0.3.18): ids has a
 * mark of its own, at 0, so it reads as behind (before the review's fix
 * it went by the shared mark, read as current, and a look-up through it
 * said not found for the task that release added). */
Test(ids_empty_log, a_view_made_on_it_is_behind_what_an_older_release_appends,
     .fini = vt_teardown)
{
	snprintf(vt_dir, sizeof vt_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(vt_dir));
	vt_open(); /* the views made on the empty log */
	vt_close();
	tl_err err = { 0 };
	tl_open_opts bare = { .flags = TL_OPEN_NOSYNC };
	cr_assert_eq(tl_db_open(vt_dir, &bare, &vt_db, &err), 0);
	tl_init_opts io = { .now_ms = VT_T0 };
	cr_assert_eq(tl_db_init(vt_db, &io, &err), 0, "%s", err.message);
	add_with_id("01890a5d-ac96-774b-bcce-b30209abcdef");
	uint64_t head = vt_events();
	vt_close();
	/* the marks as that release leaves them */
	set_mark("views_seq", head);
	size_t n;
	const tl_view *const *v = tl_views_all(&n);
	for (size_t i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof key, "view_seq:%s", tl_view_name(v[i]));
		set_mark(key, head);
	}
	tl_db *db = open_views(TL_OPEN_RDONLY);
	unsigned long seeks = tl_ids_seeks;
	answer a = look_up(db, "b30209abcdef");
	cr_assert_eq(a.rc, 0, "%s", a.err.message);
	cr_assert_eq(tl_ids_seeks, seeks, "the view answered while behind");
	tl_db_close(db);
	vt_db = open_views(TL_OPEN_NOSYNC); /* rebuilds it */
	a = look_up(vt_db, "b30209abcdef");
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209abcdef");
	cr_assert_eq(tl_ids_seeks - seeks, 1);
	/* (the projections' marks were moved by hand here, without their
	 * entries: rebuilt before the check) */
	tl_ctx ctx = { .actor = "admin" };
	cr_assert_eq(tl_rebuild(vt_db, &ctx, NULL, 0, NULL, NULL, &err), 0,
		     "%s", err.message);
	cr_assert_eq(vt_verify(), 0);
}

/* Past the keys that begin with the end asked for, a look-up reads no
 * further (one seek, not a walk to the end of the view): a damaged key
 * after them, the last of the view, leaves the answer alone (an audit:
 * reading on past the first key that does not begin so went unnoticed). */
Test(ids, a_look_up_reads_no_key_past_those_that_begin_so)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi rev;
	uint8_t key[17];
	two_tasks_then_raw_view(&env, &txn, &rev);
	memset(key, 0xff, sizeof key); /* after abcdef's fe dc.. */
	cr_assert_eq(mdb_put(txn, rev, &(MDB_val){ 17, key },
			     &(MDB_val){ 0, "" }, 0),
		     0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	vt_open();
	/* fedcba's key (ab cd ef ..), then abcdef's, which ends the look-up */
	unsigned long seeks = tl_ids_seeks;
	answer a = look_up(vt_db, "b30209fedcba");
	cr_assert_eq(a.rc, 0, "%d %s", a.rc, a.err.message);
	cr_assert_str_eq(a.id, "01890a5d-ac96-774b-bcce-b30209fedcba");
	cr_assert_eq(tl_ids_seeks - seeks, 1);
}

static int count_event(void *arg, const tl_event *ev)
{
	(void)ev;
	++*(int *)arg;
	return 0;
}

/* log --stream by the end of a task id (tl_log_read) checks the views
 * as task show does: a read-only handle whose view is behind the log
 * finds the task by the scan, not through the view, which lacks it (an
 * audit: the check was not asked for there, and nothing said so). */
Test(ids, a_log_read_by_the_end_of_a_stream_leaves_a_view_behind_to_the_scan)
{
	leave_the_view_behind();
	tl_err err = { 0 };

	tl_db *db = open_views(TL_OPEN_RDONLY);
	unsigned long seeks = tl_ids_seeks;
	int n = 0;
	cr_assert_eq(tl_log_read(db, NULL, 1, 0, tl_s("b30209fedcba"),
				 count_event, &n, &err),
		     0, "%s", err.message);
	cr_assert_eq(n, 1, "the task's one event");
	cr_assert_eq(tl_ids_seeks, seeks, "the view answered while behind");
	tl_db_close(db);
}

/* The meta key of the workspace (closed): whether it is there, and its
 * u64 (BE) into *v. */
static bool get_mark(const char *key, uint64_t *v)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val val;
	vt_raw_db("meta", &env, &txn, &meta);
	int rc = mdb_get(txn, meta, &(MDB_val){ strlen(key), (void *)key },
			 &val);
	*v = 0;
	if (!rc) {
		cr_assert_eq(val.mv_size, 8);
		for (int i = 0; i < 8; i++)
			*v = *v << 8 | ((const uint8_t *)val.mv_data)[i];
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return !rc;
}

/* A view on an empty log without a mark of its own (made before the
 * review) that another process switches while a writable handle is
 * open: the handle's next read rebuilds it on the empty log, and writes
 * its mark, at 0 (an audit: no test failed without the write). */
Test(ids_empty_log, a_rebuild_of_it_gives_the_view_a_mark_of_its_own,
     .fini = vt_teardown)
{
	snprintf(vt_dir, sizeof vt_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(vt_dir));
	vt_open();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi meta;
		/* (this process's copy of vt_db is its parent's: not used) */
		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 128) ||
		    mdb_env_open(env, vt_dir, 0, 0664) ||
		    mdb_txn_begin(env, NULL, 0, &txn) ||
		    mdb_dbi_open(txn, "meta", 0, &meta))
			_exit(1);
		MDB_val k = { 8, "view:ids" }, v;
		uint8_t b[8];
		if (mdb_get(txn, meta, &k, &v) || v.mv_size != 8)
			_exit(2);
		memcpy(b, v.mv_data, 8);
		b[3]++; /* another version, in a generation of its own */
		b[7]++;
		if (mdb_put(txn, meta, &k, &(MDB_val){ 8, b }, 0) ||
		    mdb_del(txn, meta, &(MDB_val){ 12, "view_seq:ids" }, NULL) ||
		    mdb_txn_commit(txn))
			_exit(3);
		mdb_env_close(env);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	tl_reader r;
	tl_err err = { 0 };
	tl_ctx sys = { .actor = TL_SYSTEM_USER };
	cr_assert_eq(tl_reader_begin(vt_db, &sys, &r, &err), 0, "%s",
		     err.message);
	tl_reader_end(&r);
	vt_close();
	uint64_t mark;
	cr_assert(get_mark("view_seq:ids", &mark), "no mark of its own");
	cr_assert_eq(mark, 0);
	cr_assert(get_mark("view:ids", &mark));
	cr_assert_eq(mark >> 32, 1, "rebuilt in the code's version");
}

/* A handle's list of views (tl_db_views: the projections, then ids)
 * opens another workspace as it is: the engine's own view given back is
 * the one it adds, not a second "ids". */
Test(ids, a_handle_s_views_open_another_workspace)
{
	size_t n, all;
	const tl_view *const *v = tl_db_views(vt_db, &n);
	tl_views_all(&all);
	cr_assert_eq(n, all + 1);
	cr_assert_eq(v[n - 1], &tl_view_ids);
	char other[96];
	snprintf(other, sizeof other, "%s/other", vt_dir);
	tl_db *db;
	tl_err err = { 0 };
	tl_open_opts o = { .flags = TL_OPEN_CREATE | TL_OPEN_NOSYNC,
			   .views = v, .views_len = n };
	cr_assert_eq(tl_db_open(other, &o, &db, &err), 0, "%s", err.message);
	size_t m;
	const tl_view *const *w = tl_db_views(db, &m);
	cr_assert_eq(m, n);
	for (size_t i = 0; i < m; i++)
		cr_assert_eq(w[i], v[i], "view %zu", i);
	tl_db_close(db);
	/* the engine's alone: a handle with it */
	o.views = (const tl_view *const[]){ &tl_view_ids };
	o.views_len = 1;
	cr_assert_eq(tl_db_open(other, &o, &db, &err), 0, "%s", err.message);
	w = tl_db_views(db, &m);
	cr_assert_eq(m, 1);
	cr_assert_eq(w[0], &tl_view_ids);
	tl_db_close(db);
}
