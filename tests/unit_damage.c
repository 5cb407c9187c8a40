/*
 * unit_damage.c - damaged stores (as a disk error, a bad tool or a hand
 * edit leaves them): each damage is a storage error naming it, never a
 * crash, a huge allocation or an error blaming the caller's input; verify
 * reports the damage it can see.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "rawdb.h"
#include "tasklog_projections.h"

static char dir[64];
static tl_db *db;
static char task_id[37];
static const tl_ctx admin = { .actor = "admin" };

/* A new workspace in dir with every view, initialised with io. */
static void new_ws(const tl_init_opts *io)
{
	snprintf(dir, sizeof dir, "/tmp/tl-damage-XXXXXX");
	cr_assert(mkdtemp(dir));
	size_t n;
	tl_open_opts o = { .flags = TL_OPEN_CREATE, .views = tl_views_all(&n) };
	o.views_len = n;
	tl_err err;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	cr_assert_eq(tl_db_init(db, io, &err), 0, "%s", err.message);
}

static void setup(void)
{
	tl_err err;
	tl_init_opts io = { .tz = "Europe/Berlin" };
	new_ws(&io);
	tl_cmd c[3] = {
		{ .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
		  .name = tl_s("Alice") },
		{ .kind = TL_TASK_ADD, .title = tl_s("Call"),
		  .link = tl_s("lead:1"), .assignee = tl_s("alice"),
		  .due = tl_s("+2d"), .idempotency_key = tl_s("k1") },
		{ .kind = TL_MEMBER_ADD, .id = tl_s("bob"), .name = tl_s("Bob"),
		  .idempotency_key = tl_s("k2") },
	};
	tl_result r[3];
	cr_assert_eq(tl_exec(db, &admin, c, 3, r, &err), 0, "%s",
		     err.message);
	msgpack_zone z;
	msgpack_zone_init(&z, 1024);
	msgpack_object o2;
	size_t off = 0;
	cr_assert_eq(msgpack_unpack((const char *)r[1].doc, r[1].doc_len, &off,
				    &z, &o2),
		     MSGPACK_UNPACK_SUCCESS);
	tl_slice id = tl_obj_slice(tl_map_get(&o2, "id"));
	cr_assert_eq(id.len, 36);
	memcpy(task_id, id.p, 36);
	task_id[36] = 0;
	msgpack_zone_destroy(&z);
	for (int i = 0; i < 3; i++)
		tl_result_release(&r[i]);
}

static void teardown(void)
{
	tl_db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Put (v non-NULL) or delete key k in database dbi, as a damage. */
static void damage(MDB_dbi dbi, const void *k, size_t kn, const void *v,
		   size_t vn)
{
	MDB_txn *txn;
	MDB_val key = { kn, (void *)k }, val = { vn, (void *)v };
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	if (v)
		cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, dbi, &key, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A task added by admin: the workspace takes writes. */
static void add_after(void)
{
	tl_err err;
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("After"),
		     .link = tl_s("lead:9") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0, "%s",
		     err.message);
	tl_result_release(&r);
}

/* Counts the documents in *arg when arg is given. */
static int skip_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	if (arg)
		++*(int *)arg;
	return 0;
}

static char seen[2048];

static void note_problem(void *arg, const char *p)
{
	(void)arg;
	strncat(seen, p, sizeof seen - strlen(seen) - 2);
	strcat(seen, "\n");
}

/* verify's problems contain want; it reports at least one. */
static void verify_says(const char *want)
{
	tl_err err;
	seen[0] = 0;
	int n = tl_verify(db, &admin, note_problem, NULL, &err);
	cr_assert_gt(n, 0, "verify found nothing (%d); wanted '%s'", n, want);
	cr_assert(strstr(seen, want), "wanted '%s' in:\n%s", want, seen);
}

Test(damage, a_clean_workspace_verifies, .init = setup, .fini = teardown)
{
	tl_err err;
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0);
}

Test(damage, damaged_settings_are_named_and_verify_sees_them,
     .init = setup, .fini = teardown)
{
	tl_err err;
	/* A zone this host does not have (damaged, or a zone missing from
	 * its tzdata): what needs no zone works, dates in it name it. */
	damage(db->meta, "tz", 2, "Europe/Berl\xc3n", 13);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("T"),
		     .link = tl_s("lead:2"), .due = tl_s("+1d") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0, "%s",
		     err.message);
	tl_result_release(&r);
	c.due = tl_s("2030-01-02");
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
	cr_assert(strstr(err.message, "not in this host's time-zone database"),
		  "%s", err.message);
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  NULL, next, &err),
		     0, "%s", err.message);
	verify_says("meta: time zone");

	damage(db->meta, "tz", 2, "UTC", 3);
	damage(db->meta, "week_start", 10, "someday", 7);
	verify_says("meta: week start");
	damage(db->meta, "week_start", 10, "friday", 6); /* of the length */
	verify_says("meta: week start");
	damage(db->meta, "week_start", 10, "monday", 6);
	uint8_t fmt[4];
	tl_put_be32(fmt, 99);
	damage(db->meta, "format", 6, fmt, 4);
	verify_says("meta: format");
	tl_put_be32(fmt, TL_FORMAT_VERSION);
	damage(db->meta, "format", 6, fmt, 4);

	/* the default actor (the first admin) gone: the store, not "--as" */
	damage(db->meta, "admin", 5, "\xc9" "dmin", 5);
	tl_ctx none = { 0 };
	cr_assert_eq(tl_exec(db, &none, &c, 1, &r, &err), TL_ESTORAGE);
	cr_assert(strstr(err.message, "first admin"), "%s", err.message);
	tl_ctx ghost = { .actor = "ghost" };
	cr_assert_eq(tl_exec(db, &ghost, &c, 1, &r, &err), TL_EFORBIDDEN);
	cr_assert_str_eq(err.field, "as");
	verify_says("meta: the first admin");
	/* no first admin at all, the settings there: damage too, not "not
	 * initialised" */
	damage(db->meta, "admin", 5, NULL, 0);
	cr_assert_eq(tl_exec(db, &none, &c, 1, &r, &err), TL_ESTORAGE);
	cr_assert_str_eq(err.field, "storage");
	cr_assert(strstr(err.message, "the workspace's first admin is "
				      "missing"), "%s", err.message);
}

/* A record in the members database under a key no member id can be (a
 * capital) is passed over when the other admins are counted: the last
 * admin still cannot be made a member (TL_EINVALID, field role), where a
 * count that stopped at it answered TL_ENOTFOUND (one of audit 10's
 * unrun mutants). */
Test(damage, a_stray_member_key_is_not_counted_among_the_admins,
     .init = setup, .fini = teardown)
{
	tl_err err;
	damage(db->members, "Ghost", 5, "x", 1);
	tl_cmd c = { .kind = TL_MEMBER_UPDATE, .id = tl_s("admin"),
		     .role = tl_s("member") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), TL_EINVALID, "%s",
		     err.message);
	cr_assert_str_eq(err.field, "role");
	cr_assert(strstr(err.message, "last admin"), "%s", err.message);
}

/* Event seq's record with the bytes from replaced by to (first found),
 * the chain hashed again from it on: a forged log that chains. */
static void forge_event(uint64_t seq, const char *from, const char *to)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t prev[TL_HASH_LEN] = { 0 };
	size_t n = strlen(from), m = strlen(to), hits = 0;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, db->events, &c), 0);
	for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0;
	     op = MDB_NEXT) {
		uint64_t at = tl_get_be64(k.mv_data);
		size_t len = v.mv_size;
		uint8_t *rec = malloc(len + m);
		cr_assert(rec);
		memcpy(rec, v.mv_data, len);
		for (size_t i = 0; at == seq && !hits && i + n <= len; i++)
			if (!memcmp(rec + i, from, n)) {
				memmove(rec + i + m, rec + i + n, len - i - n);
				memcpy(rec + i, to, m);
				len = len - n + m;
				hits++;
			}
		if (at >= seq) {
			tl_event_hash(prev, rec, len, rec + len - TL_HASH_LEN);
			MDB_val nv = { len, rec };
			/* a put of another size moves the cursor's page, and
			 * a put may reuse the page the key was read from: the
			 * key in a buffer of its own */
			uint8_t kb[8];
			memcpy(kb, k.mv_data, sizeof kb);
			MDB_val kk = { sizeof kb, kb };
			cr_assert_eq(mdb_put(txn, db->events, &kk, &nv, 0), 0);
			cr_assert_eq(mdb_cursor_get(c, &kk, &v, MDB_SET), 0);
		}
		memcpy(prev, rec + len - TL_HASH_LEN, TL_HASH_LEN);
		free(rec);
	}
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(hits, 1, "event %llu holds '%s'",
		     (unsigned long long)seq, from);
}

/* A forged event that chains and folds, but that no command writes (a
 * key of its data that none writes): verify names it, as
 * import --events refuses it, so that a log called clean exports and
 * imports again (0.3.26; it was called clean). */
Test(damage, an_event_import_refuses_is_named_by_verify, .init = setup,
     .fini = teardown)
{
	forge_event(4, "\xa5notes", "\xa5notez"); /* the task's created */
	verify_says("event 4 (task.created): data holds 'notez', which no "
		    "command writes there; import --events would refuse it "
		    "(field data)");
	forge_event(4, "\xa5notez", "\xa5notes");
	/* an actor of kind system that is not the system user */
	forge_event(4, "\xa4kind\xa4user", "\xa4kind\xa6system");
	verify_says("event 4: actor 'admin' is of kind system, which only the "
		    "system user is; import --events would refuse it (field "
		    "actor)");
	forge_event(4, "\xa4kind\xa6system", "\xa4kind\xa4user");
	/* a second "id" in the actor map: the decoder takes the first (the
	 * state says admin made the task), a JSON reader the last (the log
	 * said ghost, whose export did not chain); and a key of its own */
	forge_event(4, "\x82\xa2id\xa5" "admin\xa4kind\xa4user",
		    "\x83\xa2id\xa5" "admin\xa4kind\xa4user\xa2id\xa5" "ghost");
	verify_says("event 4: actor 'admin' is not a map of \"id\" and "
		    "\"kind\" alone, in that order, as every release writes "
		    "it; import --events would refuse it (field actor)");
	forge_event(4, "\xa2id\xa5" "ghost", "\xa1x\xa5" "ghost");
	verify_says("event 4: actor 'admin' is not a map of \"id\" and "
		    "\"kind\" alone");
	forge_event(4, "\x83\xa2id\xa5" "admin\xa4kind\xa4user\xa1x\xa5" "ghost",
		    "\x82\xa2id\xa5" "admin\xa4kind\xa4user");
	/* a link id no command takes (its JSON export says U+FFFD for the
	 * byte, and does not chain when imported): named too */
	forge_event(4, "\xa2id\xa1" "1", "\xa2id\xa1\xff");
	verify_says("event 4 (task.created): link.id is not valid UTF-8");
	forge_event(4, "\xa2id\xa1\xff", "\xa2id\xa3" "1\n2");
	verify_says("event 4 (task.created): link.id contains a control "
		    "character");
	forge_event(4, "\xa2id\xa3" "1\n2", "\xa2id\xa0");
	verify_says("event 4 (task.created): link.id must not be empty; "
		    "import --events would refuse it (field link.id)");
	forge_event(4, "\xa2id\xa0", "\xa2id\xa1" "1");
	tl_err err;
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0,
		     "forged back: clean");
}

/* A forged event that chains, folds to the stored state and has the form
 * of one import --events takes, but whose `previous` is not what the task
 * held then: only the replay, which imports the log again with the state
 * each event met, names it (verify --replay, 0.3.28).  The replay's
 * workspace goes in $TMPDIR and is removed. */
Test(damage, a_replay_names_an_event_no_command_made, .init = setup,
     .fini = teardown)
{
	tl_err err;
	tl_result r;
	char tmp[] = "/tmp/tasklog-replay-test-XXXXXX";
	cr_assert(mkdtemp(tmp));
	cr_assert_eq(setenv("TMPDIR", tmp, 1), 0);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(task_id),
		     .title = tl_s("Call back") };
	cr_assert_eq(tl_exec(db, &admin, &u, 1, &r, &err), 0, "%s",
		     err.message);
	tl_result_release(&r);
	seen[0] = 0;
	cr_assert_eq(tl_verify_progress(db, &admin, TL_VERIFY_REPLAY,
					note_problem, NULL, NULL, NULL, &err),
		     0, "%s\n%s", err.message, seen);
	/* event 6 (task.updated): its previous title, not its new one */
	forge_event(6, "\xa4" "Call", "\xa4" "Cell");
	cr_assert_eq(tl_verify_progress(db, &admin, TL_VERIFY_NO_VIEWS,
					note_problem, NULL, NULL, NULL, &err),
		     0, "without the replay: clean, %s", seen);
	cr_assert_eq(tl_verify_progress(db, &admin,
					TL_VERIFY_NO_VIEWS | TL_VERIFY_REPLAY,
					note_problem, NULL, NULL, NULL, &err),
		     1, "%s", seen);
	cr_assert(strstr(seen, "replay: event 6 (task.updated)") &&
			  strstr(seen, "previous") &&
			  strstr(seen, "import --events refuses it"),
		  "%s", seen);
	/* the copy is gone */
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rmdir %s", tmp);
	cr_assert_eq(system(cmd), 0, "%s holds what the replay left", tmp);
	cr_assert_eq(tl_verify_progress(db, &admin, 1u << 7, note_problem, NULL,
					NULL, NULL, &err),
		     TL_EINVALID);
	cr_assert_str_eq(err.field, "flags");
}

/* What $TMPDIR holds while the replay runs (its step's progress). */
typedef struct replay_watch {
	const char *tmp;
	int calls, most;
} replay_watch;

static void watch_tmp(void *arg, const tl_verify_step *s)
{
	replay_watch *w = arg;
	if (s->step != s->steps || !s->done)
		return;
	DIR *d = opendir(w->tmp);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	w->calls++;
	if (n > w->most)
		w->most = n;
}

/* The replay in many chunks (3 events each) into a copy whose map starts
 * at 256 KiB and grows while 200 tasks with notes of 2 KiB go in: clean,
 * and an event refused in a later chunk is named; with no problem
 * callback too (a review: fn was called unchecked).  $TMPDIR is empty
 * while the copy fills (0.3.29: its files are unlinked once open, so a
 * replay killed there leaves nothing), and after. */
Test(damage, a_replay_in_chunks_into_a_growing_copy, .init = setup,
     .fini = teardown)
{
	tl_err err;
	tl_result r;
	static char notes[2048];
	char tmp[] = "/tmp/tasklog-replay-test-XXXXXX";
	cr_assert(mkdtemp(tmp));
	cr_assert_eq(setenv("TMPDIR", tmp, 1), 0);
	memset(notes, 'n', sizeof notes - 1);
	for (int i = 0; i < 200; i++) {
		char title[16];
		snprintf(title, sizeof title, "T%d", i);
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
			     .link = tl_s("lead:2"), .notes = tl_s(notes) };
		cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0, "%s",
			     err.message);
		tl_result_release(&r);
	}
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(task_id),
		     .title = tl_s("Call back") };
	cr_assert_eq(tl_exec(db, &admin, &u, 1, &r, &err), 0, "%s",
		     err.message);
	uint64_t seq = r.seq; /* the update's event: 206 */
	cr_assert_eq(seq, 206);
	tl_result_release(&r);
	tl_replay_chunk = 3;
	tl_replay_map = 256 * 1024;
	seen[0] = 0;
	replay_watch w = { .tmp = tmp };
	cr_assert_eq(tl_verify_progress(db, &admin,
					TL_VERIFY_NO_VIEWS | TL_VERIFY_REPLAY,
					note_problem, NULL, watch_tmp, &w,
					&err),
		     0, "%s\n%s", err.message, seen);
	cr_assert_gt(w.calls, 10, "the replay's progress, told per chunk");
	cr_assert_eq(w.most, 0, "%s held the copy by name while it filled",
		     tmp);
	forge_event(seq, "\xa4" "Call", "\xa4" "Cell");
	cr_assert_eq(tl_verify_progress(db, &admin,
					TL_VERIFY_NO_VIEWS | TL_VERIFY_REPLAY,
					note_problem, NULL, NULL, NULL, &err),
		     1, "%s", seen);
	char want[64];
	snprintf(want, sizeof want, "replay: event %llu (task.updated)",
		 (unsigned long long)seq);
	cr_assert(strstr(seen, want), "%s", seen);
	cr_assert_eq(tl_verify_progress(db, &admin,
					TL_VERIFY_NO_VIEWS | TL_VERIFY_REPLAY,
					NULL, NULL, NULL, NULL, &err),
		     1);
	tl_replay_chunk = 4096;
	tl_replay_map = 0;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rmdir %s", tmp);
	cr_assert_eq(system(cmd), 0, "%s holds what the replay left", tmp);
}

/* Settings that are valid but not the ones event 1 holds (which init
 * and import store alike, and nothing changes): damage verify names
 * (0.3.26: a zone changed in meta alone read every date in it, a first
 * admin changed there ran every command without --as as that member). */
Test(damage, settings_other_than_the_log_s_are_named, .init = setup,
     .fini = teardown)
{
	damage(db->meta, "tz", 2, "Pacific/Kiritimati", 18);
	verify_says("meta: tz 'Pacific/Kiritimati' is not the log's "
		    "'Europe/Berlin' (event 1, the settings init made)");
	damage(db->meta, "tz", 2, "Europe/Berlin", 13);
	damage(db->meta, "week_start", 10, "sunday", 6);
	verify_says("meta: week_start 'sunday' is not the log's 'monday'");
	damage(db->meta, "week_start", 10, "monday", 6);
	damage(db->meta, "admin", 5, "alice", 5); /* a member, not the first */
	verify_says("meta: admin 'alice' is not the log's 'admin'");
	damage(db->meta, "admin", 5, "admin", 5);
	/* a setting named already as bad is not named again */
	damage(db->meta, "tz", 2, "Nowhere/Zone", 12);
	verify_says("meta: time zone 'Nowhere/Zone' is not in this host's");
	cr_assert_null(strstr(seen, "the log's"), "%s", seen);
	damage(db->meta, "tz", 2, "Europe/Berlin", 13);
	tl_err err;
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0,
		     "put back: clean");
}

/* Settings gone from a workspace whose log holds events: damage, not a
 * workspace to initialise (init must not be asked to write over it). */
Test(damage, settings_missing_beside_a_log_are_damage, .init = setup,
     .fini = teardown)
{
	tl_err err;
	tl_settings st;
	damage(db->meta, "format", 6, NULL, 0);
	cr_assert_eq(tl_db_settings(db, &st, &err), TL_ESTORAGE);
	cr_assert_str_eq(err.field, "storage");
	cr_assert(strstr(err.message, "no settings: its meta database is "
				      "damaged"),
		  "%s", err.message);
	cr_assert(strstr(err.message, "holds a log of"), "%s", err.message);
	/* ... and init does not write a second workspace over that log */
	MDB_txn *txn;
	MDB_stat before, after;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_stat(txn, db->events, &before), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(tl_db_init(db, NULL, &err), TL_ESTORAGE);
	cr_assert(strstr(err.message, "meta database is damaged"), "%s",
		  err.message);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_stat(txn, db->events, &after), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(after.ms_entries, before.ms_entries);
	cr_assert_gt(before.ms_entries, 0);
}

/* Zones that 0.3.2 accepted at init and 0.3.3 refuses as new input
 * (a name with an empty part, posix/Factory) keep working in the
 * workspaces that hold them: dates are read in them and verify is
 * clean. */
Test(damage, a_zone_stored_by_an_older_release_keeps_working,
     .init = setup, .fini = teardown)
{
	/* as fixstrs, as the event holds them */
	static const char *const zones[] = { "\xad" "Europe/Berlin",
					     "\xae" "Europe//Berlin",
					     "\xad" "posix/Factory" };
	for (size_t i = 1; i < 3; i++) {
		tl_err err;
		cr_assert_not(tl_tz_valid(zones[i] + 1));
		/* in the settings and in event 1, which init made alike */
		forge_event(1, zones[i - 1], zones[i]);
		damage(db->meta, "tz", 2, zones[i] + 1, strlen(zones[i]) - 1);
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("T"),
			     .link = tl_s("lead:2"),
			     .due = tl_s("2030-01-02") };
		tl_result r;
		cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0,
			     "%s: %s", zones[i] + 1, err.message);
		tl_result_release(&r);
		seen[0] = 0;
		cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0,
			     "%s: %s", zones[i] + 1, seen);
	}
	/* A new call's zone is held to the new rule. */
	tl_ctx berlin2 = { .actor = "admin", .tz = "Europe//Berlin" };
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("T"),
		     .link = tl_s("lead:2"), .due = tl_s("2030-01-02") };
	tl_result r;
	tl_err err;
	cr_assert_eq(tl_exec(db, &berlin2, &c, 1, &r, &err), TL_EINVALID);
	cr_assert_str_eq(err.field, "tz");
}

/* The only admin's record damaged (a role no word names, or CRM access
 * taken away): verify, run as that admin, says the record is damaged
 * (storage) instead of refusing the actor; run as another admin it lists
 * the record among the problems. */
Test(damage, a_damaged_admin_record_is_named_by_verify, .init = setup,
     .fini = teardown)
{
	tl_err err;
	uint8_t *doc;
	size_t len;
	MDB_txn *txn;
	MDB_val k = { 5, "admin" }, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->members, &k, &v), 0);
	len = v.mv_size;
	doc = malloc(len);
	memcpy(doc, v.mv_data, len);
	mdb_txn_abort(txn);
	uint8_t *role = memmem(doc, len, "\xa4role\xa5" "admin", 11);
	cr_assert_not_null(role, "the role in the record");
	role += 6;
	role[4] = 'o'; /* "admio" */
	damage(db->members, "admin", 5, doc, len);
	/* without an err too (its message was read through NULL) */
	cr_assert_eq(tl_verify(db, NULL, note_problem, NULL, NULL),
		     TL_ESTORAGE);
	int rc = tl_verify(db, NULL, note_problem, NULL, &err);
	cr_assert_eq(rc, TL_ESTORAGE, "%d %s: %s", rc, err.field, err.message);
	cr_assert(strstr(err.message, "differs from the log"), "%s",
		  err.message);
	tl_ctx sys = { .actor = TL_SYSTEM_USER };
	seen[0] = 0;
	cr_assert_gt(tl_verify(db, &sys, note_problem, NULL, &err), 0);
	cr_assert(strstr(seen, "member admin"), "%s", seen);

	role[4] = 'n'; /* "admin" again, and CRM access false */
	uint8_t *t = memmem(doc, len, "crm_access", 10);
	cr_assert_not_null(t);
	cr_assert_eq(t[10], 0xc3); /* true */
	t[10] = 0xc2;
	damage(db->members, "admin", 5, doc, len);
	cr_assert_eq(tl_verify(db, NULL, note_problem, NULL, &err),
		     TL_ESTORAGE);
	cr_assert(strstr(err.message, "differs from the log"), "%s",
		  err.message);
	t[10] = 0xc3; /* CRM access true again */

	/* A well-formed record that says "member": the actor loads, is
	 * not an admin, and that refusal comes from damage too. */
	role = memmem(doc, len, "\xa4role\xa5" "admin", 11);
	cr_assert_not_null(role);
	size_t at = (size_t)(role - doc) + 5, mlen = len + 1;
	uint8_t *mdoc = malloc(mlen);
	memcpy(mdoc, doc, at);
	memcpy(mdoc + at, "\xa6" "member", 7);
	memcpy(mdoc + at + 7, doc + at + 6, len - at - 6);
	damage(db->members, "admin", 5, mdoc, mlen);
	cr_assert_eq(tl_verify(db, NULL, note_problem, NULL, &err),
		     TL_ESTORAGE, "%s: %s", err.field, err.message);
	cr_assert(strstr(err.message, "differs from the log"), "%s",
		  err.message);
	/* ...and says what the refusal was, once */
	cr_assert(strstr(err.message,
			 "(verify is for admins; 'admin' is not one)"),
		  "%s", err.message);
	free(mdoc);
	free(doc);
}

/* A stored task, or member, that no events fold into: verify names it.
 * The folds said TL_ENOTFOUND without filling the error, and verify read
 * that error for an out-of-memory one (a static analyser; valgrind saw
 * the read).  The folds now fill it. */
Test(damage, a_stored_task_or_member_without_events_is_named_by_verify,
     .init = setup, .fini = teardown)
{
	uint8_t id[16], ghost[16];
	cr_assert(tl_uuid_parse(tl_s(task_id), id));
	memcpy(ghost, id, 16);
	ghost[15] ^= 0x5a;
	MDB_txn *txn;
	MDB_val k = { 16, id }, v, mk = { 5, "alice" }, mv;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->tasks, &k, &v), 0);
	cr_assert_eq(mdb_get(txn, db->members, &mk, &mv), 0);
	MDB_val gk = { 16, ghost }, gm = { 5, "ghost" };
	cr_assert_eq(mdb_put(txn, db->tasks, &gk, &v, 0), 0);
	cr_assert_eq(mdb_put(txn, db->members, &gm, &mv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);

	/* each fold fills the error it returns, whatever it held */
	msgpack_zone z;
	cr_assert(msgpack_zone_init(&z, 1024));
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	tl_task t;
	tl_member m;
	tl_err e = { .code = TL_ESTORAGE, .message = "x: out of memory" };
	cr_assert_eq(tl_task_fold_until(db, txn, ghost, UINT64_MAX, INT64_MAX,
					&t, &z, &e),
		     TL_ENOTFOUND);
	cr_assert_eq(e.code, TL_ENOTFOUND);
	cr_assert(strstr(e.message, "has no events"), "%s", e.message);
	e = (tl_err){ .code = TL_ESTORAGE, .message = "x: out of memory" };
	cr_assert_eq(tl_member_fold_until(db, txn, tl_s("ghost"), UINT64_MAX,
					  &m, &z, &e),
		     TL_ENOTFOUND);
	cr_assert_eq(e.code, TL_ENOTFOUND);
	cr_assert(strstr(e.message, "member ghost has no events"), "%s",
		  e.message);
	e = (tl_err){ .code = TL_ESTORAGE, .message = "x: out of memory" };
	cr_assert_eq(tl_member_fold_until(db, txn, tl_s("Not An Id"),
					  UINT64_MAX, &m, &z, &e),
		     TL_ENOTFOUND);
	cr_assert_eq(e.code, TL_ENOTFOUND);
	mdb_txn_abort(txn);
	msgpack_zone_destroy(&z);

	char want[96];
	tl_err err;
	seen[0] = 0;
	cr_assert_gt(tl_verify(db, &admin, note_problem, NULL, &err), 0,
		     "%s", err.message);
	char gtext[37];
	tl_uuid_format(ghost, gtext);
	snprintf(want, sizeof want, "task %s: no events fold into it", gtext);
	cr_assert(strstr(seen, want), "wanted '%s' in:\n%s", want, seen);
	cr_assert(strstr(seen, "member ghost: no events fold into it"),
		  "%s", seen);
}

/* A member's read marks through a version of its stream that holds no
 * read: verify compares no reads with no marks (it sorted a NULL array
 * of none, which UBSan's nonnull check aborts on). */
Test(damage, read_marks_through_a_stream_without_reads_verify,
     .init = setup, .fini = teardown)
{
	tl_err err;
	damage(db->meta, "nread:alice", 11, "\0\0\0\1", 4);
	seen[0] = 0;
	int n = tl_verify(db, &admin, note_problem, NULL, &err);
	cr_assert_geq(n, 0, "%s", err.message);
	cr_assert(!strstr(seen, "read marks"), "%s", seen);
}

/* A stored role that is neither "admin" nor "member" is damage, not a
 * member without the admin role: a member whose record says "membex"
 * is refused with a storage error, and verify names the record. */
Test(damage, a_member_record_with_an_unknown_role_is_a_storage_error,
     .init = setup, .fini = teardown)
{
	tl_err err;
	MDB_txn *txn;
	MDB_val k = { 5, "alice" }, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->members, &k, &v), 0);
	size_t len = v.mv_size;
	uint8_t *doc = malloc(len);
	memcpy(doc, v.mv_data, len);
	mdb_txn_abort(txn);
	uint8_t *role = memmem(doc, len, "\xa4role\xa6" "member", 12);
	cr_assert_not_null(role, "the role in the record");
	role[11] = 'x'; /* "membex" */
	damage(db->members, "alice", 5, doc, len);
	free(doc);

	tl_ctx alice = { .actor = "alice" };
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, &alice, &(tl_list_query){ 0 },
				  skip_doc, NULL, next, &err),
		     TL_ESTORAGE, "%s: %s", err.field, err.message);
	verify_says("member alice");
}

/* The stored idempotency record of key k1 into rec (128 bytes); its
 * length. */
static size_t k1_record(uint8_t *rec)
{
	MDB_txn *txn;
	MDB_val k = { 2, "k1" }, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->idem, &k, &v), 0);
	size_t n = v.mv_size;
	cr_assert_leq(n, 128);
	memcpy(rec, v.mv_data, n);
	mdb_txn_abort(txn);
	return n;
}

Test(damage, idempotency_records_and_members_are_verified, .init = setup,
     .fini = teardown)
{
	uint8_t rec[128];
	size_t n = k1_record(rec);

	/* k1 pointed at bob's member.added: another stream */
	uint8_t other[128];
	memcpy(other, rec, n);
	tl_put_be64(other, tl_get_be64(rec) + 1);
	damage(db->idem, "k1", 2, other, n);
	verify_says("idempotency key k1: event");
	damage(db->idem, "k1", 2, rec, 5);
	verify_says("idempotency key k1: record of 5 bytes");
	/* a kind of record no release wrote (a walk-through: said to be
	 * of another stream) */
	memcpy(other, rec, n);
	cr_assert_eq(other[8], 'F');
	other[8] = 'G';
	damage(db->idem, "k1", 2, other, n);
	verify_says("idempotency key k1: record of an unknown kind (byte 0x47 "
		    "after its seq)");
	damage(db->idem, "k1", 2, rec, n);

	damage(db->members, "bob", 3, NULL, 0);
	verify_says("member bob: in the log, not stored");
}

/* An idempotency record pointing at another task's event: the streams
 * are of one length (task ids), so only their bytes tell them apart. */
Test(damage, an_idempotency_record_of_another_task_is_named,
     .init = setup, .fini = teardown)
{
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("Other"),
		     .link = tl_s("lead:2"), .idempotency_key = tl_s("k3") };
	tl_result r;
	tl_err err;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), 0, "%s",
		     err.message);
	uint64_t other = r.seq;
	tl_result_release(&r);
	uint8_t rec[128];
	size_t n = k1_record(rec);
	tl_put_be64(rec, other); /* k1's task.created -> the other one's */
	damage(db->idem, "k1", 2, rec, n);
	verify_says("idempotency key k1: event");
	verify_says("of another stream");
}

/* A workspace whose weeks start on Sunday verifies clean. */
Test(damage, a_sunday_workspace_verifies)
{
	tl_err err;
	tl_init_opts io = { .week_start = "sunday" };
	new_ws(&io);
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0,
		     "%s", seen);
	teardown();
}

/* In the plain build msgpack-c's malloc of what the header claims just
 * fails (NOMEM, a storage error too); the sanitizer pass, whose allocator
 * aborts on such a request, is where this test guards the check. */
Test(damage, damaged_documents_are_refused_before_msgpack_allocates,
     .init = setup, .fini = teardown)
{
	tl_err err;
	uint8_t *doc;
	size_t len;
	/* a map header claiming 2^32-1 entries in 5 bytes */
	static const uint8_t huge[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	uint8_t id[16];
	cr_assert(tl_uuid_parse(tl_s(task_id), id));
	damage(db->tasks, id, 16, huge, sizeof huge);
	cr_assert_eq(tl_task_get(db, &admin, tl_s(task_id), &doc, &len, &err),
		     TL_ESTORAGE);
	tl_cmd u = { .kind = TL_TASK_UPDATE, .id = tl_s(task_id),
		     .title = tl_s("New") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &u, 1, &r, &err), TL_ESTORAGE);

	damage(db->members, "alice", 5, huge, sizeof huge);
	tl_ctx alice = { .actor = "alice" };
	cr_assert_eq(tl_member_get(db, &admin, tl_s("alice"), &doc, &len,
				   &err),
		     TL_ESTORAGE);
	cr_assert_eq(tl_task_list(db, &alice, &(tl_list_query){ 0 }, NULL,
				  NULL, (char[TL_CURSOR_MAX]){ 0 }, &err),
		     TL_ESTORAGE);
	/* her tasks stay listable by others: the record is there */
	tl_slice who = tl_s("alice");
	tl_list_query q = { .assignees = &who, .assignees_len = 1 };
	cr_assert_eq(tl_task_list(db, &admin, &q, skip_doc, NULL,
				  (char[TL_CURSOR_MAX]){ 0 }, &err),
		     0, "%s", err.message);
}

static int count(void *arg, const tl_event *ev)
{
	(void)ev;
	++*(int *)arg;
	return 0;
}

Test(damage, a_short_stream_index_value_is_not_read_past, .init = setup,
     .fini = teardown)
{
	tl_err err;
	uint8_t sk[TL_STREAM_KEY_MAX];
	size_t skn = tl_stream_key(tl_s(task_id), sk);
	/* the task's one entry (version 1) replaced by 3 bytes */
	damage(db->streams, sk, skn, NULL, 0);
	damage(db->streams, sk, skn, "\0\0\1", 3);
	int n = 0;
	cr_assert_eq(tl_log_read(db, &admin, 1, 0, tl_s(task_id), count, &n,
				 &err),
		     TL_ESTORAGE);
	cr_assert(strstr(err.message, "stream index"), "%s", err.message);
	verify_says("stream index: a value of 3 bytes");

	/* 12 bytes of zeros: version 0, seq 0 (an entry no read may skip) */
	static const uint8_t zeros[12];
	damage(db->streams, sk, skn, NULL, 0);
	damage(db->streams, sk, skn, zeros, sizeof zeros);
	n = 0;
	cr_assert_eq(tl_log_read(db, &admin, 1, 0, tl_s(task_id), count, &n,
				 &err),
		     TL_ESTORAGE);
	uint8_t *doc;
	size_t len;
	cr_assert_eq(tl_task_as_of(db, &admin, tl_s(task_id), INT64_MAX, &doc,
				   &len, &err),
		     TL_ESTORAGE);
}

static int ignore(void *arg, const uint8_t *doc, size_t len)
{
	(void)arg;
	(void)doc;
	(void)len;
	return 0;
}

Test(damage, a_damaged_notification_entry_is_an_error, .init = setup,
     .fini = teardown)
{
	tl_err err;
	const MDB_dbi *d = tl_view_dbis(db, "notifications");
	cr_assert_not_null(d);
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	/* the inbox: the view's first database */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, d[0], &c), 0);
	int found = 0;
	while (mdb_cursor_get(c, &k, &v, found ? MDB_NEXT : MDB_FIRST) == 0) {
		found = 1;
		static const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
		MDB_val nv = { sizeof huge, (void *)huge };
		cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
	}
	cr_assert(found);
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	tl_ctx alice = { .actor = "alice" };
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_notifications(db, &alice, (tl_slice){ 0 }, false, 0,
				      (tl_slice){ 0 }, ignore, NULL, next,
				      &err),
		     TL_ESTORAGE);
}

/* An idempotent retry whose first run's task lost its stream index
 * entries: a storage error naming the record, not a bare not_found. */
Test(damage, a_replay_of_a_task_without_events_is_a_storage_error,
     .init = setup, .fini = teardown)
{
	tl_err err;
	uint8_t sk[TL_STREAM_KEY_MAX];
	size_t skn = tl_stream_key(tl_s(task_id), sk);
	damage(db->streams, sk, skn, NULL, 0);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s("Call"),
		     .link = tl_s("lead:1"), .assignee = tl_s("alice"),
		     .due = tl_s("+2d"), .idempotency_key = tl_s("k1") };
	tl_result r;
	cr_assert_eq(tl_exec(db, &admin, &c, 1, &r, &err), TL_ESTORAGE,
		     "%s", err.message);
	cr_assert(strstr(err.message, "idempotency record"), "%s",
		  err.message);
}

/* The workspace reopened read-only, where the damaged `tasks` view does
 * not serve (a list is a storage error that says to rebuild) and the
 * others do, then writable, which rebuilds it. */
static void reopen_past_a_damaged_tasks_view(void)
{
	tl_err err;
	tl_db_close(db);
	size_t n;
	tl_open_opts ro = { .flags = TL_OPEN_RDONLY,
			    .views = tl_views_all(&n) };
	ro.views_len = n;
	cr_assert_eq(tl_db_open(dir, &ro, &db, &err), 0, "%s", err.message);
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  NULL, next, &err),
		     TL_ESTORAGE);
	cr_assert(strstr(err.message, "rebuild"), "%s", err.message);
	tl_ctx alice = { .actor = "alice" };
	cr_assert_eq(tl_notifications(db, &alice, (tl_slice){ 0 }, false, 0,
				      (tl_slice){ 0 }, skip_doc, NULL, next,
				      &err),
		     0, "%s", err.message);
	tl_db_close(db);

	tl_open_opts o = { .views = tl_views_all(&n) };
	o.views_len = n;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
}

/* meta names a serving generation that has no databases: a read-only
 * handle finds the view absent (its queries say to rebuild, the other
 * views serve); a writable open rebuilds it, as for a view of another
 * version, and drops the generation it strands. */
Test(damage, a_view_without_its_databases_is_rebuilt_on_open,
     .init = setup, .fini = teardown)
{
	tl_err err;
	MDB_txn *txn;
	MDB_val k = { 10, "view:tasks" }, v;
	uint8_t rec[8];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8);
	memcpy(rec, v.mv_data, 8);
	mdb_txn_abort(txn);
	uint32_t gen = tl_get_be32(rec + 4);
	char was[64];
	snprintf(was, sizeof was, "v.tasks.%u.idx", gen);
	cr_assert_str_eq(raw_view_dbs(db->env, "tasks"), was);
	tl_put_be32(rec + 4, gen + 50);
	damage(db->meta, "view:tasks", 10, rec, 8);

	reopen_past_a_damaged_tasks_view();
	char next[TL_CURSOR_MAX];
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  NULL, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0);
	char now[64];
	snprintf(now, sizeof now, "v.tasks.%u.idx", gen + 51);
	cr_assert_str_eq(raw_view_dbs(db->env, "tasks"), now);
	add_after();
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0);
}

/* meta's record of a view longer than the 8 bytes written (its version
 * and generation, then bytes no release writes): damage, so the view has
 * no generation a handle may trust.  A read-only handle finds it absent
 * (the other views serve); a writable open rebuilds it and writes the
 * record whole again. */
Test(damage, a_view_record_of_more_than_8_bytes_is_no_generation,
     .init = setup, .fini = teardown)
{
	tl_err err;
	MDB_txn *txn;
	MDB_val k = { 10, "view:tasks" }, v;
	uint8_t rec[12] = { 0 };
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8);
	memcpy(rec, v.mv_data, 8);
	mdb_txn_abort(txn);
	damage(db->meta, "view:tasks", 10, rec, sizeof rec);

	reopen_past_a_damaged_tasks_view();
	char next[TL_CURSOR_MAX];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0);
	cr_assert_eq(v.mv_size, 8, "the record is whole again");
	mdb_txn_abort(txn);
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  NULL, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0);
}

/* A view's meta record gone while a writable handle serves it (damage,
 * or a tool of another release): the handle's next read rebuilds that
 * view, as an open would, and serves it whole; the other views go on
 * serving.  (Before 0.3.35 the read said to rebuild; before that, the
 * handle took the handles it held for stale again and again.) */
Test(damage, a_view_record_gone_under_an_open_handle_is_rebuilt,
     .init = setup, .fini = teardown)
{
	tl_err err;
	char next[TL_CURSOR_MAX];
	int n = 0;
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  NULL, next, &err),
		     0, "%s", err.message);
	damage(db->meta, "view:tasks", 10, NULL, 0);
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  &n, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(n, 1, "the task of the rebuilt view");
	MDB_txn *txn;
	MDB_val k = { 10, "view:tasks" }, v;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, db->meta, &k, &v), 0, "the record is back");
	mdb_txn_abort(txn);
	tl_ctx alice = { .actor = "alice" };
	cr_assert_eq(tl_notifications(db, &alice, (tl_slice){ 0 }, false, 0,
				      (tl_slice){ 0 }, skip_doc, NULL, next,
				      &err),
		     0, "%s", err.message);
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0,
		     "%s", seen);
}

/* The last event cut short (its head unreadable: under the 40 bytes of
 * a chained event) under an open writable handle: the handle's reads
 * serve the views as they are, since a rebuild would not get past the
 * damage either (0.3.35's rebuild of views behind the log, a first try,
 * took an unreadable head for "behind" and failed every read), and
 * verify names the damage. */
Test(damage, a_log_head_cut_short_leaves_the_views_serving, .init = setup,
     .fini = teardown)
{
	tl_err err;
	char next[TL_CURSOR_MAX];
	int n = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t key[8];
	cr_assert_eq(mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, db->events, &c), 0);
	cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
	cr_assert_eq(k.mv_size, 8);
	memcpy(key, k.mv_data, 8);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	damage(db->events, key, 8, "short", 5);
	cr_assert_eq(tl_task_list(db, &admin, &(tl_list_query){ 0 }, skip_doc,
				  &n, next, &err),
		     0, "%s", err.message);
	cr_assert_eq(n, 1);
	verify_says("corrupt");
}

/* ---- the file's pages ---------------------------------------------------- */

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	memcpy(&v, p, n);
	return v;
}

/* The data file f read whole into file[0..cap), its length into *len;
 * the meta of its last commit (the larger txnid of the two). */
static const uint8_t *read_last_meta(FILE *f, uint8_t *file, size_t cap,
				     size_t *len)
{
	*len = fread(file, 1, cap, f);
	cr_assert_lt(*len, cap, "the test's workspace grew");
	const uint8_t *m0 = file + 16, *m1 = file + 4096 + 16;
	return le(m0 + 128, 8) > le(m1 + 128, 8) ? m0 : m1;
}

/* Close the workspace, after n task.add commits (each frees pages), and
 * open its data file for a hand edit. */
static FILE *closed_data_file(int n)
{
	tl_err err;
	for (int i = 0; i < n; i++) {
		char title[16];
		snprintf(title, sizeof title, "T%d", i);
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
			     .link = tl_s("lead:1") };
		cr_assert_eq(tl_exec(db, &admin, &c, 1, NULL, &err), 0, "%s",
			     err.message);
	}
	cr_assert_eq(tl_verify(db, &admin, note_problem, NULL, &err), 0);
	tl_db_close(db);
	db = NULL;
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	FILE *f = fopen(path, "r+b");
	cr_assert(f);
	return f;
}

/* A page still in use put on LMDB's free list (a flipped bit there, or a
 * bad tool): no read sees it, the next write would overwrite the page.
 * verify names it, compares no views (that writes), and nothing it does
 * touches the page; a compact backup is whole. */
Test(damage, a_page_in_use_on_the_free_list_is_named_and_left_alone,
     .init = setup, .fini = teardown)
{
	tl_err err;
	FILE *f = closed_data_file(30);
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	static uint8_t file[8 << 20];
	size_t len;
	const uint8_t *meta = read_last_meta(f, file, sizeof file, &len);
	const size_t ps = 4096;
	uint64_t free_root = le(meta + 24 + 40, 8);
	uint64_t live = le(meta + 24 + 48 + 40, 8); /* the main db's root */
	cr_assert_neq(free_root, UINT64_MAX, "no free list");
	uint8_t *p = file + free_root * ps;
	cr_assert(le(p + 10, 2) & 2, "the free list's root is no leaf");
	size_t off = (size_t)le(p + 16, 2);
	uint8_t *node = p + off;
	cr_assert(!(le(node + 4, 2) & 1), "a big free list record");
	uint8_t *ids = node + 8 + le(node + 6, 2);
	uint64_t n = le(ids, 8);
	cr_assert_gt(n, 0);
	memcpy(ids + 8 * n, &live, 8); /* its last (smallest) page */
	uint8_t before[4096];
	memcpy(before, file + live * ps, ps);
	cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
	cr_assert_eq(fwrite(file, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);

	size_t nv;
	tl_open_opts o = { .views = tl_views_all(&nv) };
	o.views_len = nv;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	char want[96];
	snprintf(want, sizeof want,
		 "pages: page %llu of the main database is on the free list",
		 (unsigned long long)live);
	seen[0] = 0;
	cr_assert_gt(tl_verify_log(db, &admin, note_problem, NULL, &err), 0);
	cr_assert(strstr(seen, want), "wanted '%s' in:\n%s", want, seen);
	verify_says(want);
	cr_assert(strstr(seen, "views: not compared"), "%s", seen);

	/* nothing verify did wrote the page */
	f = fopen(path, "rb");
	cr_assert(f);
	uint8_t after[4096];
	cr_assert_eq(fseek(f, (long)(live * ps), SEEK_SET), 0);
	cr_assert_eq(fread(after, 1, ps, f), ps);
	fclose(f);
	cr_assert(!memcmp(before, after, ps), "verify wrote the page");

	/* the way out: a compact copy has no free list to trust */
	char copy[96];
	snprintf(copy, sizeof copy, "%s/copy", dir);
	cr_assert_eq(tl_db_backup(db, &admin, copy, TL_BACKUP_COMPACT, NULL,
				  &err),
		     0, "%s", err.message);
	tl_db *c;
	cr_assert_eq(tl_db_open(copy, &o, &c, &err), 0, "%s", err.message);
	cr_assert_eq(tl_verify(c, &admin, note_problem, NULL, &err), 0, "%s",
		     seen);
	tl_db_close(c);
}

/* A flipped bit in the main database's root that the last commit's meta
 * page names: the engine's databases are not where it points.  Opening
 * such a file is a storage error (damage), never "not initialised", and
 * writes nothing: creating the databases anew would commit over the
 * older meta page, the last whole copy of the tree (and an init would
 * start a new log there).  Every bit of the root, one at a time. */
Test(damage, a_flipped_main_root_is_damage_and_nothing_is_written,
     .init = setup, .fini = teardown)
{
	FILE *f = closed_data_file(10);
	static uint8_t file[8 << 20], now[8 << 20];
	size_t len = fread(file, 1, sizeof file, f);
	fclose(f);
	cr_assert_lt(len, sizeof file, "the test's workspace grew");
	const size_t ps = 4096;
	size_t meta = le(file + 16 + 128, 8) > le(file + ps + 16 + 128, 8)
			      ? 16
			      : ps + 16;
	size_t root = meta + 24 + 48 + 40; /* the main db's md_root */
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	size_t nv;
	tl_open_opts o = { .views = tl_views_all(&nv) };
	o.views_len = nv;
	int damaged = 0;
	for (int bit = 0; bit < 64; bit++) {
		file[root + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		f = fopen(path, "wb");
		cr_assert(f && fwrite(file, 1, len, f) == len &&
			  fclose(f) == 0);
		tl_err err;
		tl_db *d = NULL;
		int rc = tl_db_open(dir, &o, &d, &err);
		if (d)
			tl_db_close(d);
		cr_assert_neq(rc, TL_ENOTFOUND, "bit %d: %s", bit,
			      err.message);
		if (rc) {
			cr_assert_eq(rc, TL_ESTORAGE, "bit %d: %s", bit,
				     err.message);
			damaged++;
		}
		f = fopen(path, "rb");
		cr_assert(f);
		size_t got = fread(now, 1, sizeof now, f);
		fclose(f);
		cr_assert(got == len && !memcmp(now, file, len),
			  "bit %d: the open wrote to the damaged file", bit);
		file[root + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	cr_assert_gt(damaged, 32, "most flips are found at open");
	f = fopen(path, "wb"); /* whole again, for teardown */
	cr_assert(f && fwrite(file, 1, len, f) == len && fclose(f) == 0);
}

/* A root that is a meta page (0 or 1), in the meta page (the free list's
 * or the main database's) or in a named database's record: LMDB asserts
 * at its first search of such a tree and aborts the process.  The open
 * refuses it first, a storage error, and writes nothing (0.3.36; a
 * helper's audit met the abort when a flipped bit of the main root made
 * page 1). */
Test(damage, a_root_that_is_a_meta_page_is_damage_not_an_abort,
     .init = setup, .fini = teardown)
{
	FILE *f = closed_data_file(10);
	static uint8_t file[8 << 20], now[8 << 20];
	size_t len;
	const uint8_t *meta = read_last_meta(f, file, sizeof file, &len);
	fclose(f);
	size_t roots[3] = { (size_t)(meta - file) + 24 + 40,
			    (size_t)(meta - file) + 24 + 48 + 40, 0 };
	/* the record of the named database "events": a node of the main
	 * database's leaf with the F_SUBDATA flag (2) and a 6-byte key */
	size_t main_pg = (size_t)le(meta + 24 + 48 + 40, 8) * 4096;
	cr_assert_lt(main_pg + 4096, len + 1);
	cr_assert(le(file + main_pg + 10, 2) & 2, "the main database is "
						  "more than one leaf");
	for (size_t i = main_pg + 16; i + 8 + 6 + 48 <= main_pg + 4096; i++)
		if (!memcmp(file + i + 8, "events", 6) && le(file + i + 6, 2) == 6 &&
		    (le(file + i + 4, 2) & 2) && le(file + i, 4) == 48) {
			roots[2] = i + 8 + 6 + 40;
			break;
		}
	cr_assert_neq(roots[2], 0, "the record of 'events' not found");
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	size_t nv;
	tl_open_opts o = { .views = tl_views_all(&nv) };
	o.views_len = nv;
	for (int r = 0; r < 3; r++)
		for (uint64_t pg = 0; pg < 2; pg++) {
			uint8_t was[8];
			memcpy(was, file + roots[r], 8);
			memcpy(file + roots[r], &pg, 8);
			f = fopen(path, "wb");
			cr_assert(f && fwrite(file, 1, len, f) == len &&
				  fclose(f) == 0);
			tl_err err = { 0 };
			tl_db *d = NULL;
			int rc = tl_db_open(dir, &o, &d, &err);
			if (d) { /* not refused: a write must not abort either */
				tl_cmd c = { .kind = TL_TASK_ADD,
					     .title = tl_s("After"),
					     .link = tl_s("lead:1") };
				rc = tl_exec(d, &admin, &c, 1, NULL, &err);
				tl_db_close(d);
			}
			cr_assert_eq(rc, TL_ESTORAGE, "root %d at page %llu: "
				     "%d %s", r, (unsigned long long)pg, rc,
				     err.message);
			f = fopen(path, "rb");
			cr_assert(f);
			size_t got = fread(now, 1, sizeof now, f);
			fclose(f);
			cr_assert(got == len && !memcmp(now, file, len),
				  "root %d at page %llu: the file was written",
				  r, (unsigned long long)pg);
			memcpy(file + roots[r], was, 8);
		}
	f = fopen(path, "wb"); /* whole again, for teardown */
	cr_assert(f && fwrite(file, 1, len, f) == len && fclose(f) == 0);
}

/* A main database that holds one entry (a plain key) and none of the
 * engine's databases: damage, as with many entries.  Only an empty main
 * database is a new file; an open that took a one-entry one for new would
 * create the databases over the damaged tree (and an init would start a
 * new log there).  The open is a storage error and writes nothing. */
Test(damage, a_main_database_of_one_entry_without_the_log_is_damage,
     .fini = teardown)
{
	snprintf(dir, sizeof dir, "/tmp/tl-damage-XXXXXX");
	cr_assert(mkdtemp(dir));
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_db;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
	MDB_val k = { 9, "tl.counts" }, v = { 3, "abc" };
	cr_assert_eq(mdb_put(txn, main_db, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	tl_err err = { 0 };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), TL_ESTORAGE, "%s",
		     err.message);
	cr_assert_null(db);
	cr_assert(strstr(err.message, "damaged"), "%s", err.message);
	/* nothing was created in it */
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 8), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	MDB_dbi events;
	int rc = mdb_dbi_open(txn, "events", 0, &events);
	cr_assert_eq(rc, MDB_NOTFOUND, "%s", mdb_strerror(rc));
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* The meta page's last page number lowered: the pages past it, still in
 * use, are where the next write puts new ones.  verify names them. */
Test(damage, pages_in_use_past_the_last_page_are_named, .init = setup,
     .fini = teardown)
{
	tl_err err;
	FILE *f = closed_data_file(10);
	uint8_t metas[2][4096];
	cr_assert_eq(fread(metas, 1, sizeof metas, f), sizeof metas);
	int last = le(metas[0] + 16 + 128, 8) > le(metas[1] + 16 + 128, 8) ? 0
									    : 1;
	uint64_t pg = le(metas[last] + 16 + 120, 8) - 3;
	memcpy(metas[last] + 16 + 120, &pg, 8);
	cr_assert_eq(fseek(f, (long)(last * 4096), SEEK_SET), 0);
	cr_assert_eq(fwrite(metas[last], 1, 4096, f), 4096);
	cr_assert_eq(fclose(f), 0);
	/* read-only: a writable open writes, and LMDB refuses that commit */
	tl_open_opts o = { .flags = TL_OPEN_RDONLY };
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
	/* named first; LMDB's own reads past that page then fail, so the
	 * checks of the log may end in a storage error */
	seen[0] = 0;
	int rc = tl_verify_log(db, &admin, note_problem, NULL, &err);
	cr_assert(rc > 0 || rc == TL_ESTORAGE, "%d %s", rc, err.message);
	cr_assert(strstr(seen, "past the last page in use"), "%s", seen);
}

/* Keys of the main database under a view's prefix that are no database
 * (damage) were taken again by every pass of the drop of old
 * generations, 16 at a time: 16 or more of them, and a rebuild, verify
 * or open never returned (a review).  Each pass now goes on after the
 * last name the one before it took. */
Test(damage, keys_of_no_database_under_a_view_s_name_end_a_rebuild,
     .init = setup, .fini = teardown, .timeout = 60)
{
	tl_err err;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	for (int i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof name, "v.tasks.9.junk%02d", i);
		MDB_val k = { strlen(name), name }, v = { 3, "bad" };
		cr_assert_eq(mdb_put(txn, main_dbi, &k, &v, 0), 0);
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(tl_rebuild(db, &admin, NULL, 0, NULL, NULL, &err), 0, "%s",
		     err.message);
	add_after();
}

/* The count of events LMDB stores in the main database's record of
 * `events`, damaged: verify sized its array of event ids by it (24 bytes
 * each), so a count whose size wraps made a heap overflow, and a huge one
 * "out of memory" (a review).  It sizes by the count only up to a bound
 * and grows as events come: verify reads the log through. */
Test(damage, a_damaged_count_of_events_does_not_size_verify_s_ids,
     .init = setup, .fini = teardown)
{
	/* a count far past memory, then one whose size wraps to 8 bytes */
	static const uint64_t counts[] = { UINT64_C(1) << 50,
					   UINT64_C(768614336404564651) };
	tl_err err;
	FILE *f = closed_data_file(3);
	static uint8_t file[8 << 20];
	size_t len;
	const uint8_t *meta = read_last_meta(f, file, sizeof file, &len);
	const size_t ps = 4096;
	uint8_t *p = file + le(meta + 24 + 48 + 40, 8) * ps; /* main root */
	cr_assert(le(p + 10, 2) & 2, "the main database's root is no leaf");
	size_t nodes = (le(p + 12, 2) - 16) / 2;
	uint8_t *entries = NULL;
	for (size_t i = 0; i < nodes && !entries; i++) {
		uint8_t *node = p + le(p + 16 + 2 * i, 2);
		if (le(node + 6, 2) == 6 && !memcmp(node + 8, "events", 6))
			entries = node + 8 + 6 + 32; /* md_entries */
	}
	cr_assert(entries, "no record of 'events' in the main database");
	for (size_t c = 0; c < 2; c++) {
		memcpy(entries, &counts[c], 8);
		cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
		cr_assert_eq(fwrite(file, 1, len, f), len);
		cr_assert_eq(fflush(f), 0);
		size_t nv;
		tl_open_opts o = { .flags = TL_OPEN_RDONLY,
				   .views = tl_views_all(&nv) };
		o.views_len = nv;
		cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s",
			     err.message);
		seen[0] = 0;
		int rc = tl_verify_log(db, &admin, note_problem, NULL, &err);
		cr_assert_geq(rc, 0, "count %zu: %d: %s", c, rc, err.message);
		cr_assert_null(strstr(seen, " id "), "%s", seen);
		tl_db_close(db);
		db = NULL;
	}
	cr_assert_eq(fclose(f), 0);
	size_t nv;
	tl_open_opts o = { .views = tl_views_all(&nv) };
	o.views_len = nv;
	cr_assert_eq(tl_db_open(dir, &o, &db, &err), 0, "%s", err.message);
}

/* Rewrite the value of alice's entry in M's due range (28 bytes, then
 * her task's covered document) with edit(), which changes the len bytes
 * at v (room for cap) in place and returns their new length, 0 when it
 * did not find what it changes. */
static void edit_covered(size_t (*edit)(uint8_t *v, size_t len, size_t cap))
{
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	static uint8_t buf[4096];
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	bool done = false;
	cr_assert(dbi);
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi[0], &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc && !done;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *kk = k.mv_data;
		if (k.mv_size < 10 || kk[0] != 'M' || kk[9] != 'd' ||
		    v.mv_size <= 28 || v.mv_size + 64 >= sizeof buf)
			continue;
		memcpy(buf, v.mv_data, v.mv_size);
		size_t n = edit(buf, v.mv_size, sizeof buf);
		cr_assert(n, "alice's covered document");
		MDB_val nv = { n, buf };
		cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
		done = true;
	}
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert(done);
}

/* Where the n bytes of pat first are in v[0..len), or NULL. */
static uint8_t *find_bytes(uint8_t *v, size_t len, const char *pat, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(v + i, pat, n))
			return v + i;
	return NULL;
}

/* damage_covered_doc's edit: cut (cut_keep < 0: that many bytes after
 * the start of "alice" in its assignee), or one byte appended after the
 * map (0). */
static int cut_keep;
static size_t cut_or_append(uint8_t *v, size_t len, size_t cap)
{
	uint8_t *a = find_bytes(v, len, "\xa8" "assignee\xa5" "alice", 15);
	if (!a || len + 1 > cap)
		return 0;
	if (cut_keep < 0)
		return (size_t)(a - v) + 10 + (size_t)-cut_keep;
	v[len] = 0xc0; /* nil, after the map */
	return len + 1;
}

static void damage_covered_doc(int keep)
{
	cut_keep = keep;
	edit_covered(cut_or_append);
}

static int count_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	++*(int *)arg;
	return 0;
}

/* The query fails on a damaged task document, listing nothing. */
static void list_is_damage(const tl_list_query *q)
{
	char next[TL_CURSOR_MAX];
	tl_err err;
	int listed = 0;
	cr_assert_eq(tl_task_list(db, &admin, q, count_doc, &listed, next,
				  &err),
		     TL_ESTORAGE, "%d listed", listed);
	cr_assert(strstr(err.message, "corrupt task record"), "%s",
		  err.message);
	cr_assert_eq(listed, 0);
}

/* A damaged covered document is a storage error where a query reads it,
 * never a task left out or listed as if whole (a review of 0.3.29's
 * one-pass reading: an assignee cut short read as "unassigned", and
 * `--assignee alice` left the task out, exit 0; a byte after the map was
 * taken). */
Test(damage, a_damaged_covered_document_is_an_error, .init = setup,
     .fini = teardown)
{
	tl_err err;
	tl_slice who = tl_s("alice"), word = tl_s("call");
	tl_list_query qa = { .assignees = &who, .assignees_len = 1 };
	tl_list_query qs = { .searches = &word, .searches_len = 1 };
	char next[TL_CURSOR_MAX];
	int listed = 0;
	cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed, next,
				  &err),
		     0, "%s", err.message);
	cr_assert_eq(listed, 1);

	damage_covered_doc(0);
	listed = 0;
	cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed, next,
				  &err),
		     TL_ESTORAGE, "%d listed", listed);
	cr_assert(strstr(err.message, "corrupt task record"), "%s",
		  err.message);

	damage_covered_doc(-3);
	listed = 0;
	cr_assert_eq(tl_task_list(db, &admin, &qa, count_doc, &listed, next,
				  &err),
		     TL_ESTORAGE, "%d listed", listed);
	cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed, next,
				  &err),
		     TL_ESTORAGE, "%d listed", listed);
	cr_assert_eq(listed, 0);
	cr_assert_gt(tl_verify(db, NULL, NULL, NULL, &err), 0,
		     "verify names the damaged view");
}

/* A covered document whose "assignee" key is gone (renamed "assignea":
 * the map keeps its size) is as damaged as one cut short: the assignee's
 * list reports it, and does not take the task for an unassigned one or
 * leave it out with success. */
static const char *swap_from, *swap_to;
static size_t swap_n;
static size_t swap_first(uint8_t *v, size_t len, size_t cap)
{
	(void)cap;
	uint8_t *a = find_bytes(v, len, swap_from, swap_n);
	if (!a)
		return 0;
	memcpy(a, swap_to, swap_n);
	return len;
}

/* The first n bytes from in alice's covered document made to. */
static void swap_covered(const char *from, const char *to, size_t n)
{
	swap_from = from;
	swap_to = to;
	swap_n = n;
	edit_covered(swap_first);
}

Test(damage, a_covered_document_without_its_assignee_is_an_error,
     .init = setup, .fini = teardown)
{
	tl_slice who = tl_s("alice");
	swap_covered("\xa8" "assignee", "\xa8" "assignea", 9);
	list_is_damage(&(tl_list_query){ .assignees = &who,
					 .assignees_len = 1 });
}

/* A covered document whose due_at is no time (a string of the same
 * length: the map stays well-formed) is damage, reported by the lists
 * that decode it: not a task without a due date, nor one due at 0. */
static size_t due_no_time(uint8_t *v, size_t len, size_t cap)
{
	(void)cap;
	/* "due_at": ext 8 of type -1 (10 bytes) -> a str of 9 */
	uint8_t *a = find_bytes(v, len, "\xa6" "due_at\xd7\xff", 9);
	if (!a || a + 17 > v + len)
		return 0;
	memcpy(a + 7, "\xa9" "not a day", 10);
	return len;
}

Test(damage, a_covered_document_with_a_due_that_is_no_time_is_an_error,
     .init = setup, .fini = teardown)
{
	tl_slice who = tl_s("alice"), word = tl_s("call"), todo = tl_s("todo");
	edit_covered(due_no_time);
	list_is_damage(&(tl_list_query){ .searches = &word,
					 .searches_len = 1 });
	list_is_damage(&(tl_list_query){ .assignees = &who,
					 .assignees_len = 1,
					 .statuses = &todo,
					 .statuses_len = 1 });
}

/* nest_title's edit: alice's covered document as stored at first, its
 * title ("Call"), or with nest_key the key "title", replaced by
 * nest_arrays arrays nested in one another around a nil. */
static int nest_arrays;
static bool nest_key;
static size_t nest_title(uint8_t *v, size_t len, size_t cap)
{
	static const char title[] = "\xa5title\xa4" "Call";
	static uint8_t first[4096];
	static size_t first_len;
	const size_t tn = sizeof title - 1;
	if (!first_len) {
		memcpy(first, v, len);
		first_len = len;
	}
	const uint8_t *at = find_bytes(first, first_len, title, tn);
	if (!at || first_len + (size_t)nest_arrays + 1 > cap)
		return 0;
	/* to the key's end, or its start */
	size_t n = (size_t)(at - first) + (nest_key ? 0 : 6);
	memcpy(v, first, n);
	for (int j = 0; j < nest_arrays; j++)
		v[n++] = 0x91;
	v[n++] = 0xc0;
	size_t skip = nest_key ? 6 : tn; /* what they replace */
	size_t rest = first_len - (size_t)(at - first) - skip;
	memcpy(v + n, at + skip, rest);
	return n + rest;
}

/* A document nests at most TL_MP_DEPTH (32) containers, itself included,
 * as msgpack_unpack allows; the assignee's list, which reads the fields
 * up to "assignee" in place, judges those before it alike: the document
 * and 31 arrays in its title pass (the title is not looked at), 32 are
 * damage. */
Test(damage, a_covered_document_nested_past_the_limit_is_an_error,
     .init = setup, .fini = teardown)
{
	tl_slice who = tl_s("alice");
	tl_list_query qa = { .assignees = &who, .assignees_len = 1 };
	char next[TL_CURSOR_MAX];
	tl_err err;
	for (int key = 0; key < 2; key++) { /* the title's value, its key */
		nest_key = key;
		nest_arrays = 31;
		edit_covered(nest_title);
		int listed = 0;
		cr_assert_eq(tl_task_list(db, &admin, &qa, count_doc, &listed,
					  next, &err),
			     0, "%s", err.message);
		cr_assert_eq(listed, 1);
		nest_arrays = 32;
		edit_covered(nest_title);
		list_is_damage(&qa);
	}
}

/* A covered document whose map header claims more entries than its
 * bytes could hold (65,535 of them, in the same 3 bytes) is damage, also
 * to the assignee's list, which reads it up to "assignee" only. */
static size_t too_many_entries(uint8_t *v, size_t len, size_t cap)
{
	(void)cap;
	if (v[28] != 0xde) /* a map16 header */
		return 0;
	v[29] = v[30] = 0xff;
	return len;
}

Test(damage, a_covered_document_claiming_too_many_entries_is_an_error,
     .init = setup, .fini = teardown)
{
	tl_slice who = tl_s("alice");
	edit_covered(too_many_entries);
	list_is_damage(&(tl_list_query){ .assignees = &who,
					 .assignees_len = 1 });
}

/* A key given twice (only damage makes one) counts by its first value,
 * as the engine's own decoding reads it: alice's covered document with
 * its "title" key renamed "notes" holds notes "Call", then its own
 * notes (nil), and a search for "call" finds it in the first. */
Test(damage, a_key_given_twice_counts_by_its_first_value, .init = setup,
     .fini = teardown)
{
	tl_slice word = tl_s("call");
	tl_list_query qs = { .searches = &word, .searches_len = 1 };
	char next[TL_CURSOR_MAX];
	tl_err err;
	int listed = 0;
	swap_covered("\xa5title", "\xa5notes", 6);
	cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed, next,
				  &err),
		     0, "%s", err.message);
	cr_assert_eq(listed, 1, "found in the first notes");
}

/* An index value of the tasks view shorter than its fixed part (28
 * bytes: id, due, status, type, link type) is damage, reported, not read
 * past: in the ranges of the statuses and of the assignee alike. */
Test(damage, a_short_value_of_the_tasks_view_is_not_read_past,
     .init = setup, .fini = teardown)
{
	const MDB_dbi *dbi = tl_view_dbis(db, "tasks");
	static const uint8_t three[3] = { 1, 2, 3 };
	tl_slice who = tl_s("alice");
	tl_list_query qs = { 0 },
		      qa = { .assignees = &who, .assignees_len = 1 };
	char next[TL_CURSOR_MAX];
	tl_err err;
	static uint8_t keys[64][32];
	size_t lens[64], cut = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int listed = 0;
	cr_assert(dbi);
	cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed, next,
				  &err),
		     0, "%s", err.message);
	cr_assert_eq(listed, 1);
	/* every entry of the task's S and M ranges, under every sort */
	cr_assert_eq(mdb_txn_begin(db->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi[0], &c), 0);
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *kk = k.mv_data;
		if (k.mv_size < 1 || k.mv_size > sizeof keys[0] ||
		    (kk[0] != 'S' && kk[0] != 'M'))
			continue;
		cr_assert_lt(cut, 64);
		memcpy(keys[cut], kk, k.mv_size);
		lens[cut++] = k.mv_size;
	}
	mdb_cursor_close(c);
	cr_assert_eq(cut, 6, "S and M under three sorts");
	for (size_t i = 0; i < cut; i++) {
		MDB_val kv = { lens[i], keys[i] },
			nv = { sizeof three, (void *)three };
		cr_assert_eq(mdb_put(txn, dbi[0], &kv, &nv, 0), 0);
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	for (int sort = 0; sort < 3; sort++) {
		tl_slice by = tl_s(sort == 0 ? "due" : sort == 1 ? "created"
								: "updated");
		qs.sort = qa.sort = by;
		listed = 0;
		cr_assert_eq(tl_task_list(db, &admin, &qs, count_doc, &listed,
					  next, &err),
			     TL_ESTORAGE, "sort %d: %d listed", sort, listed);
		cr_assert_eq(listed, 0);
		cr_assert(strstr(err.message, "view tasks"), "%s",
			  err.message);
		cr_assert_eq(tl_task_list(db, &admin, &qa, count_doc, &listed,
					  next, &err),
			     TL_ESTORAGE, "sort %d: %d listed", sort, listed);
		cr_assert_eq(listed, 0);
		cr_assert(strstr(err.message, "view tasks"), "%s",
			  err.message);
	}
	cr_assert_gt(tl_verify(db, NULL, NULL, NULL, &err), 0,
		     "verify names the damaged view");
}
