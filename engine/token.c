/*
 * token.c - members' access tokens, for the server's `auth` (SPEC §6).
 *
 * A token is "tl_" and 64 lowercase hex digits: 32 bytes from the
 * system's random source (libsodium's randombytes_buf, getrandom).  The
 * workspace keeps no token, only its BLAKE2b-256 hash, in the database
 * "tokens" (made by the first token; docs/format.md):
 *
 *   'h' + hash (33 bytes)    -> the member's id
 *   'm' + the member's id    -> hash (32 bytes)
 *
 * so a token is found by what it hashes to, and a member's earlier token
 * is found and dropped when a new one is made: a member holds at most
 * one.  Tokens are secrets, not facts of the log: no event records them
 * (an export carries none; `backup` copies them, as the idempotency
 * keys).  Making or revoking one is an admin's, as every member command.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define TOKEN_PREFIX "tl_"
#define TOKEN_BYTES 32

/* The hash of token text t. */
static void token_hash(tl_slice t, uint8_t out[TL_HASH_LEN])
{
	crypto_generichash(out, TL_HASH_LEN, (const unsigned char *)t.p, t.len,
			   NULL, 0);
}

/* Whether t has a token's form (else no look-up is made). */
static bool token_form(tl_slice t)
{
	size_t plen = sizeof TOKEN_PREFIX - 1;
	if (!t.p || t.len != TL_TOKEN_LEN || memcmp(t.p, TOKEN_PREFIX, plen))
		return false;
	for (size_t i = plen; i < t.len; i++)
		if (!((t.p[i] >= '0' && t.p[i] <= '9') ||
		      (t.p[i] >= 'a' && t.p[i] <= 'f')))
			return false;
	return true;
}

/* The tokens database in txn: made when create (a write), else
 * TL_ENOTFOUND when no token was ever made. */
static int tokens_dbi(MDB_txn *txn, bool create, MDB_dbi *dbi, tl_err *err)
{
	/* LMDB: one thread at a time in mdb_dbi_open */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&mu);
	int rc = tl_dbi_open(txn, "tokens", create ? MDB_CREATE : 0, dbi);
	pthread_mutex_unlock(&mu);
	if (rc == MDB_NOTFOUND && !create)
		return TL_ENOTFOUND;
	return rc ? tl_mdb_err(err, rc, "open tokens") : 0;
}

/* Whether the record k -> v (of kind 'h' or 'm') of the tokens database
 * is named back by its pair, and, for an 'h' record, of a member other
 * than but (when but.p). */
static bool names_back(MDB_txn *txn, MDB_dbi dbi, const MDB_val *k,
		       const MDB_val *v, tl_slice but)
{
	uint8_t b[1 + TL_MEMBER_ID_MAX + TL_HASH_LEN];
	const uint8_t *kp = k->mv_data;
	if (v->mv_size > TL_MEMBER_ID_MAX + TL_HASH_LEN)
		return false;
	if (but.p && kp[0] == 'h' && v->mv_size == but.len &&
	    !memcmp(v->mv_data, but.p, but.len))
		return false;
	b[0] = kp[0] == 'h' ? 'm' : 'h';
	memcpy(b + 1, v->mv_data, v->mv_size);
	MDB_val bk = { 1 + v->mv_size, b }, bv;
	return mdb_get(txn, dbi, &bk, &bv) == 0 &&
	       bv.mv_size == k->mv_size - 1 &&
	       !memcmp(bv.mv_data, kp + 1, bv.mv_size);
}

/* Drop member m's token in txn, if it holds one; *had says whether.  Its
 * 'm' record goes, with the 'h' record it names, and every other 'h'
 * record that names m (a scan): a damaged pair (verify's "not named
 * back") leaves no token of m behind (a review: a revoke said "revoked"
 * and the token still named m).  One record a member: the scan is
 * short. */
static int drop_token(MDB_txn *txn, MDB_dbi dbi, tl_slice m, bool *had,
		      tl_err *err)
{
	uint8_t mk[1 + TL_MEMBER_ID_MAX];
	MDB_cursor *c;
	mk[0] = 'm';
	memcpy(mk + 1, m.p, m.len);
	MDB_val k = { 1 + m.len, mk }, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	*had = rc == 0;
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read token");
	/* the hash record m's names goes too, unless it is another
	 * member's whole pair (damage that names another's hash) */
	if (!rc && v.mv_size == TL_HASH_LEN) {
		uint8_t hk[1 + TL_HASH_LEN];
		hk[0] = 'h';
		memcpy(hk + 1, v.mv_data, TL_HASH_LEN);
		MDB_val h = { sizeof hk, hk }, hv;
		if (!mdb_get(txn, dbi, &h, &hv) &&
		    !names_back(txn, dbi, &h, &hv, m) &&
		    (rc = mdb_del(txn, dbi, &h, NULL)))
			return tl_mdb_err(err, rc, "drop token");
	}
	if ((rc = mdb_del(txn, dbi, &k, NULL)) && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "drop token");
	if ((rc = mdb_cursor_open(txn, dbi, &c)))
		return tl_mdb_err(err, rc, "cursor");
	k = (MDB_val){ 1, "h" };
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!k.mv_size || *(const uint8_t *)k.mv_data != 'h')
			break;
		if (v.mv_size != m.len || memcmp(v.mv_data, m.p, m.len))
			continue;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		*had = true;
	}
	mdb_cursor_close(c);
	return rc && rc != MDB_NOTFOUND ? tl_mdb_err(err, rc, "drop token")
					: 0;
}

/* The write of tl_member_token in t: the member checked, its old token
 * dropped, a new one (when out) stored. */
static int token_write(tl_txn *t, const tl_ctx *ctx, tl_slice m,
		       char *out, bool *had, tl_err *err)
{
	tl_member actor;
	MDB_dbi dbi;
	int rc = tl_actor_resolve(t->db, t->txn, ctx, &actor, &t->zone, err);
	if (rc)
		return rc;
	if (!actor.admin)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "member token is for admins; '%s' is not one",
				  actor.id);
	if ((rc = tl_member_find(t->db, t->txn, m, err)) == TL_ENOTFOUND)
		return tl_err_set(err, TL_ENOTFOUND, "id",
				  "no member '%.*s'", (int)m.len, m.p);
	if (rc || (rc = tokens_dbi(t->txn, true, &dbi, err)) ||
	    (rc = drop_token(t->txn, dbi, m, had, err)) || !out)
		return rc;

	uint8_t raw[TOKEN_BYTES], hk[1 + TL_HASH_LEN],
		mk[1 + TL_MEMBER_ID_MAX];
	randombytes_buf(raw, sizeof raw);
	memcpy(out, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
	sodium_bin2hex(out + sizeof TOKEN_PREFIX - 1,
		       TL_TOKEN_LEN - (sizeof TOKEN_PREFIX - 1) + 1, raw,
		       sizeof raw);
	sodium_memzero(raw, sizeof raw);
	hk[0] = 'h';
	token_hash((tl_slice){ out, TL_TOKEN_LEN }, hk + 1);
	mk[0] = 'm';
	memcpy(mk + 1, m.p, m.len);
	MDB_val k = { sizeof hk, hk }, v = { m.len, (void *)m.p };
	if ((rc = mdb_put(t->txn, dbi, &k, &v, MDB_NOOVERWRITE))) {
		/* 2^-256: a token made twice */
		return tl_mdb_err(err, rc, "store token");
	}
	k = (MDB_val){ 1 + m.len, mk };
	v = (MDB_val){ TL_HASH_LEN, hk + 1 };
	if ((rc = mdb_put(t->txn, dbi, &k, &v, 0)))
		return tl_mdb_err(err, rc, "store token");
	return 0;
}

/* One transaction of tl_member_token: TL_EAGAIN when the map is full
 * (nothing written; a commit that found it full grew it already). */
static int token_once(tl_db *db, const tl_ctx *ctx, tl_slice member,
		      char *out, bool *had, tl_err *err)
{
	tl_txn *t;
	int rc = tl_txn_begin(db, &t, err);
	if (rc)
		return rc;
	if ((rc = token_write(t, ctx, member, out, had, err))) {
		tl_txn_abort(t);
		return rc;
	}
	return tl_txn_commit(t, err);
}

int tl_member_token(tl_db *db, const tl_ctx *ctx, tl_slice member,
		    bool revoke, char token[TL_TOKEN_LEN + 1], bool *had,
		    tl_err *err)
{
	char q[64];
	bool held = false;
	if (!revoke && !token)
		return tl_err_set(err, TL_EINVALID, "token",
				  "no buffer for the new token");
	if (!tl_member_id_valid(member))
		return tl_err_set(err, TL_EINVALID, "id",
				  "member id '%s' must be 1..64 of [a-z0-9._-]",
				  tl_quote(member, q, sizeof q));
	/* known without a look-up: an argument error */
	if (tl_slice_eq(member, TL_SYSTEM_USER))
		return tl_err_set(err, TL_EINVALID, "id",
				  "the system user '%s' acts in the workspace "
				  "itself and holds no token",
				  TL_SYSTEM_USER);
	/* a full map: grown, then again (as tl_db_init does) */
	int rc;
	for (;;) {
		size_t before = tl_db_map_size(db);
		rc = token_once(db, ctx, member, revoke ? NULL : token, &held,
				err);
		if (rc != TL_EAGAIN ||
		    (rc = tl_db_grow_from(db, before, err)))
			break;
	}
	if (rc && token)
		sodium_memzero(token, TL_TOKEN_LEN + 1);
	if (!rc && had)
		*had = held;
	return rc;
}

int tl_token_member(tl_db *db, tl_slice token, char member[65],
		    tl_err *err)
{
	uint8_t hk[1 + TL_HASH_LEN];
	MDB_txn *txn;
	MDB_dbi dbi;
	member[0] = 0;
	if (!token_form(token))
		return tl_err_set(err, TL_EFORBIDDEN, "token",
				  "is not a token (tl_ and 64 hex digits)");
	hk[0] = 'h';
	token_hash(token, hk + 1);
	int rc = tl_env_begin(db, MDB_RDONLY, &txn);
	if (rc)
		return tl_mdb_err(err, rc, "begin");
	rc = tokens_dbi(txn, false, &dbi, err);
	MDB_val k = { sizeof hk, hk }, v;
	if (!rc && (rc = mdb_get(txn, dbi, &k, &v)))
		rc = rc == MDB_NOTFOUND ? TL_ENOTFOUND
					: tl_mdb_err(err, rc, "read token");
	if (!rc && (!v.mv_size || v.mv_size > TL_MEMBER_ID_MAX))
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"a token record of %zu bytes (the data file "
				"is damaged)",
				v.mv_size);
	if (!rc) {
		memcpy(member, v.mv_data, v.mv_size);
		member[v.mv_size] = 0;
		/* the member's own record names this hash (a damaged pair
		 * is no token: a review); and the member is one */
		uint8_t mk[1 + TL_MEMBER_ID_MAX];
		mk[0] = 'm';
		memcpy(mk + 1, member, v.mv_size);
		MDB_val bk = { 1 + v.mv_size, mk }, bv;
		int g = mdb_get(txn, dbi, &bk, &bv);
		if (g && g != MDB_NOTFOUND)
			rc = tl_mdb_err(err, g, "read token");
		else if (g || bv.mv_size != TL_HASH_LEN ||
			 memcmp(bv.mv_data, hk + 1, TL_HASH_LEN))
			rc = TL_ENOTFOUND;
	}
	if (!rc) {
		/* the member is one, whose record reads: a damaged record
		 * is a storage error, as every command that reads it says,
		 * not a member the token lets in */
		msgpack_zone zone;
		tl_member m;
		if (!msgpack_zone_init(&zone, 256))
			rc = tl_err_oom(err);
		else {
			rc = tl_member_load(db, txn,
					    (tl_slice){ member, v.mv_size },
					    &m, &zone, err);
			msgpack_zone_destroy(&zone);
		}
	}
	mdb_txn_abort(txn);
	if (rc == TL_ENOTFOUND) {
		member[0] = 0;
		return tl_err_set(err, TL_EFORBIDDEN, "token",
				  "is not a token of this workspace (unknown, "
				  "or replaced by a newer one)");
	}
	if (rc)
		member[0] = 0;
	return rc;
}

int tl_tokens_verify(tl_db *db, MDB_txn *txn,
		     void (*fn)(void *arg, const char *problem), void *arg,
		     tl_err *err)
{
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	char msg[200];
	int rc = tokens_dbi(txn, false, &dbi, err);
	if (rc == TL_ENOTFOUND) /* no token was ever made */
		return 0;
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, dbi, &c)))
		return tl_mdb_err(err, rc, "cursor");
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		const uint8_t *kp = k.mv_data;
		const char *bad = NULL;
		tl_slice m = { 0 };
		if (k.mv_size == 1 + TL_HASH_LEN && kp[0] == 'h') {
			m = (tl_slice){ v.mv_data, v.mv_size };
			if (!tl_member_id_valid(m))
				bad = "names no member id";
		} else if (k.mv_size >= 2 &&
			   k.mv_size <= 1 + TL_MEMBER_ID_MAX && kp[0] == 'm') {
			m = (tl_slice){ (const char *)kp + 1, k.mv_size - 1 };
			if (!tl_member_id_valid(m) || v.mv_size != TL_HASH_LEN)
				bad = "is not a member's token hash";
		} else {
			bad = "is of neither kind (hash, member)";
		}
		if (!bad && !tl_member_exists(db, txn, m))
			bad = "is of no member";
		if (!bad && !names_back(txn, dbi, &k, &v, (tl_slice){ 0 }))
			bad = "is not named back by its pair";
		if (bad) {
			snprintf(msg, sizeof msg,
				 "tokens: the record of %zu-byte key '%c...' %s",
				 k.mv_size, kp[0] >= 0x20 && kp[0] < 0x7f
						    ? kp[0] : '?',
				 bad);
			fn(arg, msg);
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : tl_mdb_err(err, rc, "read tokens");
}
