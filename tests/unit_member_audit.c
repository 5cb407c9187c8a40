/*
 * unit_member_audit.c - tests a mutation audit of engine/member.c and
 * engine/token.c (members, the acting member, admins, tokens) found
 * missing: each fails on one mutant that the other tests let pass.
 *
 * Every test gets its own workspace, a fresh directory under /tmp opened
 * with tl_db_open and initialised with tl_db_init at time T0, removed by
 * the fixture's fini.  A few edit the "tokens" database with LMDB
 * directly, the workspace closed, as unit_engine.c's token tests do.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw; PATH_MAX in internal.h */
#endif
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "internal.h"
#include "testutil.h"
#include "tasklog_projections.h"

#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00.000Z */
#define SEC INT64_C(1000)

/* ---- workspace ---------------------------------------------------------- */

static char ws_dir[64];
static tl_db *db;

static void db_open_or_die(void)
{
	tl_err err = { 0 };
	tl_open_opts o = { .flags = TL_OPEN_CREATE };
	o.views = tl_views_all(&o.views_len);
	int rc = tl_db_open(ws_dir, &o, &db, &err);
	cr_assert_eq(rc, 0, "tl_db_open(%s): %d %s: %s", ws_dir, rc, err.field,
		     err.message);
}

static void db_close(void)
{
	tl_db_close(db);
	db = NULL;
}

/* A workspace whose first admin is admin (NULL: "admin"). */
static void ws_make(const char *admin)
{
	snprintf(ws_dir, sizeof ws_dir, "/tmp/tasklog-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(ws_dir), "mkdtemp failed");
	db_open_or_die();
	tl_init_opts io = { .now_ms = T0, .admin = admin };
	tl_err err = { 0 };
	int rc = tl_db_init(db, &io, &err);
	cr_assert_eq(rc, 0, "tl_db_init: %d %s: %s", rc, err.field,
		     err.message);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void ws_setup(void)
{
	ws_make(NULL);
}

static void ws_teardown(void)
{
	if (db)
		db_close();
	if (ws_dir[0])
		nftw(ws_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ws_dir[0] = 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void add_member(const char *id, const char *role, int crm)
{
	tl_result res;
	tl_err err = { 0 };
	tl_ctx ctx = { .now_ms = T0 + SEC };
	tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id), .name = tl_s(id),
		     .role = tl_s(role), .crm_access = crm };
	int rc = tl_exec(db, &ctx, &c, 1, &res, &err);
	cr_assert_eq(rc, 0, "member add %s: %d %s: %s", id, rc, err.field,
		     err.message);
	cr_assert(res.appended);
	tl_result_release(&res);
}

static void token_ok(const char *member, bool revoke,
		     char out[TL_TOKEN_LEN + 1], bool *had)
{
	tl_err err = { 0 };
	int rc = tl_member_token(db, NULL, tl_s(member), revoke, out, had,
				 &err);
	cr_assert_eq(rc, 0, "tl_member_token(%s): %d %s: %s", member, rc,
		     err.field, err.message);
}

#define token_of(token) tu_token_of(db, token)

/* verify of this file's workspace (testutil.c) */
static int verify(tu_problems *p)
{
	return tu_verify(db, p);
}

/* Store (val) or delete (val NULL) one record of the tokens database,
 * the workspace closed. */
static void raw_tokens(const void *key, size_t klen, const void *val,
		       size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { klen, (void *)key }, v = { len, (void *)val };
	cr_assert_null(db, "close the workspace first");
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 128), 0);
	cr_assert_eq(mdb_env_open(env, ws_dir, 0, 0666), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "tokens", 0, &dbi), 0);
	if (val)
		cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	else
		cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* ---- tests -------------------------------------------------------------- */

/* A revoke drops the member's token only, also when another member's id
 * is as long as theirs (mutant: drop_token's scan of 'h' records
 * compared ids by length alone, so revoking ann dropped bob's token). */
Test(member_audit, a_revoke_leaves_another_members_token_of_the_same_length,
     .init = ws_setup, .fini = ws_teardown)
{
	char ta[TL_TOKEN_LEN + 1], tb[TL_TOKEN_LEN + 1];
	bool had;
	add_member("ann", "member", 1);
	add_member("bob", "member", 1);
	token_ok("ann", false, ta, NULL);
	token_ok("bob", false, tb, NULL);
	token_ok("ann", true, NULL, &had);
	cr_assert(had);
	cr_assert_str_eq(token_of(ta), "");
	cr_assert_str_eq(token_of(tb), "bob");
	/* a new token for ann leaves bob's too */
	token_ok("ann", false, ta, NULL);
	cr_assert_str_eq(token_of(tb), "bob");
	cr_assert_str_eq(token_of(ta), "ann");
	tu_problems p;
	cr_assert_eq(verify(&p), 0, "%s", p.first);
}

/* A first admin whose id has the most bytes an id may have (64) is the
 * default actor (mutant: the stored id of 64 bytes was taken for a
 * damaged setting, so every command without an actor failed). */
Test(member_audit, a_first_admin_of_64_bytes_is_the_default_actor,
     .fini = ws_teardown)
{
	char id[TL_MEMBER_ID_MAX + 1];
	memset(id, 'a', TL_MEMBER_ID_MAX);
	id[TL_MEMBER_ID_MAX] = 0;
	ws_make(id);
	tl_err err = { 0 };
	cr_assert_eq(tl_need_admin(db, NULL, "a test", &err), 0, "%s: %s",
		     err.field, err.message);
	uint8_t *doc = NULL;
	size_t len = 0;
	cr_assert_eq(tl_member_get(db, NULL, tl_s("me"), &doc, &len, &err), 0,
		     "%s: %s", err.field, err.message);
	cr_assert(len > TL_MEMBER_ID_MAX);
	cr_assert(memmem(doc, len, id, TL_MEMBER_ID_MAX));
	free(doc);
	add_member("bob", "member", 1);
}

/* A pair of token records of an id that is no member is reported by
 * verify, both records, and the token lets no one in (mutant: verify
 * left out its "of no member" check, and a pair naming each other
 * passed). */
Test(member_audit, verify_reports_a_token_pair_of_no_member,
     .init = ws_setup, .fini = ws_teardown)
{
	static const char tok[] =
		"tl_0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef";
	uint8_t hk[1 + TL_HASH_LEN] = { 'h' };
	crypto_generichash(hk + 1, TL_HASH_LEN, (const unsigned char *)tok,
			   TL_TOKEN_LEN, NULL, 0);
	uint8_t mk[7] = { 'm', 'n', 'o', 'b', 'o', 'd', 'y' };
	char t[TL_TOKEN_LEN + 1];
	add_member("bob", "member", 1);
	token_ok("bob", false, t, NULL); /* makes the tokens database */
	db_close();
	raw_tokens(hk, sizeof hk, "nobody", 6);
	raw_tokens(mk, sizeof mk, hk + 1, TL_HASH_LEN);
	db_open_or_die();
	tu_problems p;
	cr_assert_eq(verify(&p), 2, "%d: %s", p.n, p.first);
	cr_assert(strstr(p.first, "of no member"), "%s", p.first);
	cr_assert_str_eq(token_of(tok), "");
	cr_assert_str_eq(token_of(t), "bob");
}

static int count_doc(void *arg, const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	++*(int *)arg;
	return 0;
}

/* The system user is a member to look up: an admin may read its
 * notifications (none), and the reader's look-up finds it (mutant:
 * tl_member_find knew only stored members, so "no member"). */
Test(member_audit, the_system_user_is_found_as_a_member, .init = ws_setup,
     .fini = ws_teardown)
{
	tl_err err = { 0 };
	char next[TL_CURSOR_MAX];
	int n = 0;
	int rc = tl_notifications(db, NULL, tl_s(TL_SYSTEM_USER), false, 0,
				  tl_s(""), count_doc, &n, next, &err);
	cr_assert_eq(rc, 0, "%d %s: %s", rc, err.field, err.message);
	cr_assert_eq(n, 0);
	tl_reader r;
	cr_assert_eq(tl_reader_begin(db, NULL, &r, &err), 0, "%s", err.message);
	cr_assert_eq(tl_member_find(db, r.txn, tl_s(TL_SYSTEM_USER), &err), 0);
	cr_assert(tl_member_exists(db, r.txn, tl_s(TL_SYSTEM_USER)));
	cr_assert_eq(tl_member_find(db, r.txn, tl_s("nobody"), &err),
		     TL_ENOTFOUND);
	tl_reader_end(&r);
}

/* tl_member_find is a view's API (tasklog_view.h): an empty id, or one
 * longer than any member's, is no member, not a storage error (mutant:
 * without the length check LMDB refused the key, MDB_BAD_VALSIZE). */
Test(member_audit, an_empty_or_oversize_id_is_no_member, .init = ws_setup,
     .fini = ws_teardown)
{
	tl_err err = { 0 };
	tl_reader r;
	char big[TL_MEMBER_ID_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cr_assert_eq(tl_reader_begin(db, NULL, &r, &err), 0, "%s", err.message);
	cr_assert_eq(tl_member_find(db, r.txn, tl_s(""), &err), TL_ENOTFOUND);
	cr_assert_eq(tl_member_find(db, r.txn, (tl_slice){ NULL, 0 }, &err),
		     TL_ENOTFOUND);
	cr_assert_eq(tl_member_find(db, r.txn, tl_s(big), &err), TL_ENOTFOUND);
	cr_assert(!tl_member_exists(db, r.txn, tl_s("")));
	tl_reader_end(&r);
}

/* `me` in tl_member_get is the acting member, whoever acts (mutant: it
 * was looked up as an id, and no member is named "me"). */
Test(member_audit, member_get_me_is_the_acting_member, .init = ws_setup,
     .fini = ws_teardown)
{
	add_member("bob", "member", 1);
	tl_ctx ctx = { .actor = "bob", .now_ms = T0 + 2 * SEC };
	tl_err err = { 0 };
	uint8_t *doc = NULL;
	size_t len = 0;
	int rc = tl_member_get(db, &ctx, tl_s("me"), &doc, &len, &err);
	cr_assert_eq(rc, 0, "%d %s: %s", rc, err.field, err.message);
	cr_assert(memmem(doc, len, "bob", 3), "not bob's document");
	cr_assert(memmem(doc, len, "member", 6));
	free(doc);
}

/* Arguments are checked before anything is looked up (since 0.3.51): a
 * text that is no member id is TL_EINVALID for tl_member_get, as for
 * tl_task_get (it was TL_ENOTFOUND), and crm_access is 0, 1 or -1 (any
 * other value passed as a grant or a revoke). */
Test(member_audit, no_member_id_and_an_odd_crm_access_are_invalid,
     .init = ws_setup, .fini = ws_teardown)
{
	tl_err err = { 0 };
	uint8_t *doc = NULL;
	size_t len = 0;
	const char *bad[] = { "", "BAD ID", "Bob" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_assert_eq(tl_member_get(db, NULL, tl_s(bad[i]), &doc, &len,
					   &err),
			     TL_EINVALID, "'%s'", bad[i]);
		cr_assert_str_eq(err.field, "id");
	}
	cr_assert_eq(tl_member_get(db, NULL, tl_s("nobody"), &doc, &len, &err),
		     TL_ENOTFOUND);
	cr_assert_eq(tl_member_get(db, NULL, tl_s(TL_SYSTEM_USER), &doc, &len,
				   &err),
		     0, "%s", err.message);
	free(doc);

	tl_ctx ctx = { .now_ms = T0 + SEC };
	tl_result res;
	const int odd[] = { -3, -2, 2, 7 };
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
		int v = odd[i];
		tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s("kim"),
			     .name = tl_s("Kim"), .crm_access = v };
		cr_assert_eq(tl_exec(db, &ctx, &c, 1, &res, &err), TL_EINVALID,
			     "crm_access %d", v);
		cr_assert_str_eq(err.field, "crm_access");
		c.kind = TL_MEMBER_UPDATE;
		c.id = tl_s("admin");
		c.name = (tl_slice){ 0 };
		cr_assert_eq(tl_exec(db, &ctx, &c, 1, &res, &err), TL_EINVALID,
			     "crm_access %d", v);
		cr_assert_str_eq(err.field, "crm_access");
	}
	tl_stats st;
	cr_assert_eq(tl_db_stats(db, NULL, &st, &err), 0);
	cr_assert_eq(st.events, 2, "something was appended");
}

/* A revoke that finds only a stray hash record of the member (its own
 * record gone: damage) still says it held a token, and drops it
 * (mutant: the scan's drops did not count). */
Test(member_audit, a_revoke_of_a_stray_hash_record_says_it_had_one,
     .init = ws_setup, .fini = ws_teardown)
{
	char t[TL_TOKEN_LEN + 1];
	bool had = false;
	uint8_t mk[4] = { 'm', 'b', 'o', 'b' };
	add_member("bob", "member", 1);
	token_ok("bob", false, t, NULL);
	db_close();
	raw_tokens(mk, sizeof mk, NULL, 0);
	db_open_or_die();
	tu_problems p;
	cr_assert_eq(verify(&p), 1, "%s", p.first);
	cr_assert_str_eq(token_of(t), "");
	token_ok("bob", true, NULL, &had);
	cr_assert(had, "the stray record was a token of bob's");
	cr_assert_eq(verify(&p), 0, "%s", p.first);
	token_ok("bob", true, NULL, &had);
	cr_assert(!had);
}

/* A refused token request leaves no text in the caller's buffer: it is
 * wiped (mutant: the wipe on failure was left out, so a buffer could
 * hold a token that was never stored). */
Test(member_audit, a_refused_token_request_wipes_the_buffer,
     .init = ws_setup, .fini = ws_teardown)
{
	add_member("bob", "member", 1);
	char t[TL_TOKEN_LEN + 1];
	memset(t, 'x', TL_TOKEN_LEN);
	t[TL_TOKEN_LEN] = 0;
	tl_ctx ctx = { .actor = "bob", .now_ms = T0 + 2 * SEC };
	tl_err err = { 0 };
	int rc = tl_member_token(db, &ctx, tl_s("bob"), false, t, NULL, &err);
	cr_assert_eq(rc, TL_EFORBIDDEN, "%d %s", rc, err.message);
	for (size_t i = 0; i <= TL_TOKEN_LEN; i++)
		cr_assert_eq(t[i], 0, "byte %zu not wiped", i);
}
