/*
 * exec.c - commands: complete validation, then events.
 *
 * Each command is validated in three steps, and nothing is written before
 * the last one passes: (1) the arguments alone (syntax, enums, lengths,
 * UTF-8, times), (2) the acting member and the idempotency key (a repeat
 * of the same request returns the first result; another request under
 * the same key is a conflict), (3) look-ups (the task, the assignee, the
 * expected version).
 * Then the command becomes one event; the event is appended, folded into
 * the task (task.c's fold is the only definition of what it does), handed
 * to the views, and the new state is stored, all in the caller's LMDB
 * transaction.  A batch fails as a whole: tl_exec aborts the transaction,
 * tl_txn_exec aborts its nested transaction.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* Parsed arguments of a task command. */
typedef struct args {
	uint8_t id[16];
	bool has_id;
	bool id_short;      /* id_suffix, not id: resolved at the look-up */
	tl_id_suffix id_suffix;
	int type, status, link_type;
	tl_slice link_id;
	bool has_due;
	int64_t due;
} args;

typedef struct run {
	tl_txn *t;
	const tl_ctx *ctx;
	tl_member actor;
	bool actor_ok;  /* resolved: after the first command's arguments, and
			   again after a member command (it may have changed
			   the actor) */
	bool actor_was_ok; /* resolved once: a later failure is a command's */
	bool actor_bad; /* it failed: the batch's error, not a command's */
	uint8_t fp[TL_IDEM_FP_LEN]; /* the command's, when it has a key */
	uint64_t batch_seq; /* the seq of the batch's first event */
	int64_t now;
	char tz[64];
	char assignee_ok[TL_MEMBER_ID_MAX + 1]; /* last assignee that passed */
	tl_packer data; /* packs an event's data into t->data (data_begin) */
} run;

/* ---- result documents ---------------------------------------------------
 *
 * The documents of one tl_exec's results share blocks of DOC_BLOCK bytes
 * (one malloc and one free per block, not per result: at 10,000 commands
 * a batch, a malloc'd copy per result took about 8 % of its CPU).  Each
 * document is preceded by the address of its block; a block counts its
 * documents, plus one while the batch still fills it, and is freed when
 * the count falls to 0, whichever thread releases last.  A document
 * of over half a block gets a block of its own.  A result kept long keeps
 * its block: DOC_BLOCK bytes at most, or its own document's size. */
#define DOC_BLOCK (64 * 1024)

typedef struct tl_doc_block tl_doc_block;
struct tl_doc_block {
	atomic_size_t refs;
	size_t used, cap;
	unsigned char data[];
};

static void doc_block_put(tl_doc_block *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1,
					   memory_order_acq_rel) == 1)
		free(b);
}

void tl_result_release(tl_result *r)
{
	if (!r)
		return;
	if (r->doc) {
		tl_doc_block *b;
		memcpy(&b, r->doc - sizeof b, sizeof b);
		doc_block_put(b);
	}
	memset(r, 0, sizeof *r);
}

/* The batch is done with its block (its results may still hold it). */
static void docs_end(tl_txn *t)
{
	doc_block_put(t->docs);
	t->docs = NULL;
}

/* res's document: a copy of t->doc (none when the caller wants no
 * results). */
static int result_doc(tl_txn *t, tl_result *res)
{
	const msgpack_sbuffer *sb = &t->doc;
	tl_doc_block *b = t->docs;
	size_t need = sizeof b + sb->size;
	if (t->no_docs)
		return 0;
	/* A document of over half a block gets a block of its own, which
	 * the batch does not hold (the room left in its block stays for the
	 * documents after it); the batch's first block is as large as its
	 * commands need, at 512 bytes each (a batch of one takes no 64 KiB). */
	bool own = need > DOC_BLOCK / 2;
	if (own || !b || b->cap - b->used < need) {
		size_t cap = own ? need
			   : b || t->docs_cmds >= DOC_BLOCK / 512
				   ? DOC_BLOCK
				   : t->docs_cmds * 512;
		if (cap < need)
			cap = need;
		tl_doc_block *nb = malloc(sizeof *nb + cap);
		if (!nb)
			return TL_ESTORAGE;
		atomic_init(&nb->refs, own ? 0 : 1);
		nb->used = 0;
		nb->cap = cap;
		if (!own) {
			docs_end(t);
			t->docs = nb;
		}
		b = nb;
	}
	unsigned char *p = b->data + b->used;
	memcpy(p, &b, sizeof b);
	if (sb->size)
		memcpy(p + sizeof b, sb->data, sb->size);
	b->used += need;
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	res->doc = p + sizeof b;
	res->doc_len = sb->size;
	return 0;
}

/* ---- argument validation ----------------------------------------------- */

static int check_enum(tl_slice s, const char *field, const char *const *tab,
		      int n, int *out, tl_err *err)
{
	char q[64];
	int v = tl_token_find(tab, n, s);
	if (v < 0) {
		char list[160] = "";
		for (int i = 0; i < n; i++) {
			strcat(list, i ? ", " : "");
			strcat(list, tab[i]);
		}
		return tl_err_set(err, TL_EINVALID, field,
				  "unknown value '%s' (one of: %s)",
				  tl_quote(s, q, sizeof q), list);
	}
	*out = v;
	return 0;
}

static int check_link(tl_slice s, args *a, tl_err *err)
{
	return tl_record_parse(s, "link", &a->link_type, &a->link_id, err);
}

static int check_tag(tl_slice s, tl_err *err)
{
	return tl_check_text(s, "tag", 1, TL_TAG_MAX, false, err);
}

/* A tag to remove: as a tag, but one of spaces alone, which an older
 * release let a task take, can still be removed. */
static int check_untag(tl_slice s, tl_err *err)
{
	if (!s.p || !s.len)
		return tl_err_set(err, TL_EINVALID, "tag", "must not be empty");
	return tl_check_text(s, "tag", 0, TL_TAG_MAX, false, err);
}

/* task.add's own id: a whole UUID. */
static int check_task_id(tl_slice s, uint8_t id[16], tl_err *err)
{
	char q[64];
	if (!s.len) /* given empty: as a task id to act on (tl_task_ref_parse) */
		return tl_err_set(err, TL_EINVALID, "id", "must not be empty");
	if (!tl_uuid_parse(s, id))
		return tl_err_set(err, TL_EINVALID, "id", "'%s' is not a UUID",
				  tl_quote(s, q, sizeof q));
	return 0;
}

static int check_due(const run *r, tl_slice s, args *a, tl_err *err)
{
	if (!s.p)
		return 0;
	a->has_due = true;
	return tl_time_parse(s, r->now, r->tz, "due", &a->due, err);
}

/* The tags given, as the set a task holds: each once, in the order first
 * given, into out (TL_TAGS_MAX of them).  False when they are more than
 * TL_TAGS_MAX different ones: a tag given twice counts once. */
static bool tags_distinct(const tl_slice *tags, size_t n,
			  tl_slice out[TL_TAGS_MAX], size_t *m)
{
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < u && !tl_slices_eq(out[j], tags[i]))
			j++;
		if (j < u)
			continue;
		if (u == TL_TAGS_MAX)
			return false;
		out[u++] = tags[i];
	}
	*m = u;
	return true;
}

/* Validate the arguments of a task command, before any look-up. */
static int check_task_args(const run *r, const tl_cmd *c, args *a,
			   tl_err *err)
{
	int rc = 0;
	memset(a, 0, sizeof *a);
	a->type = -1;
	a->status = -1;
	if (c->kind == TL_TASK_ADD) {
		if (c->id.p) {
			static const uint8_t nil[16];
			rc = check_task_id(c->id, a->id, err);
			a->has_id = true;
			/* Clients take the nil UUID for "no id": never a
			 * task's. */
			if (!rc && !memcmp(a->id, nil, 16))
				rc = tl_err_set(err, TL_EINVALID, "id",
						"the nil UUID is not a task id");
		}
		if (!rc) rc = tl_check_text(c->title, "title", 1, TL_TITLE_MAX,
					    false, err);
		if (!rc) rc = check_link(c->link, a, err);
	} else {
		rc = tl_task_ref_parse(c->id, a->id, &a->id_suffix,
				       &a->id_short, err);
		a->has_id = true;
		if (!rc && c->title.p)
			rc = tl_check_text(c->title, "title", 1, TL_TITLE_MAX,
					   false, err);
	}
	if (!rc && c->type.p)
		rc = check_enum(c->type, "type", tl_type_tokens, TL_TYPE_COUNT,
				&a->type, err);
	if (!rc && c->status.p && c->kind == TL_TASK_REOPEN) {
		char q[64];
		a->status = tl_token_find(tl_status_tokens, TL_STATUS_COUNT,
					  c->status);
		if (a->status < 0 || !tl_status_active(a->status))
			rc = tl_err_set(err, TL_EINVALID, "status",
					"'%s': a task reopens as todo, "
					"in_progress or on_hold",
					tl_quote(c->status, q, sizeof q));
	} else if (!rc && c->status.p) {
		rc = check_enum(c->status, "status", tl_status_tokens,
				TL_STATUS_COUNT, &a->status, err);
	}
	if (!rc && c->kind == TL_TASK_STATUS && !c->status.p)
		rc = tl_err_set(err, TL_EINVALID, "status", "is required");
	/* as an import's and the server's params say it (since 0.3.45:
	 * before, a larger one was a conflict) */
	if (!rc && c->has_expect_version && c->expect_version > INT64_MAX)
		rc = tl_err_set(err, TL_EINVALID, "expect_version",
				"is too large: a version number is at most "
				"9223372036854775807");
	if (!rc && c->notes.p)
		rc = tl_check_text(c->notes, "notes", 0, TL_NOTES_MAX, true,
				   err);
	if (!rc && c->due.p && c->no_due)
		rc = tl_err_set(err, TL_EINVALID, "due",
				"give either a due time or no due, not both");
	if (!rc)
		rc = check_due(r, c->due, a, err);
	if (!rc && c->assignee.p && !tl_member_id_valid(c->assignee)) {
		char q[64];
		rc = tl_err_set(err, TL_EINVALID, "assignee",
				"'%s' is not a member id",
				tl_quote(c->assignee, q, sizeof q));
	}
	/* The system user is known without a look-up: an argument error. */
	if (!rc && c->assignee.p && tl_slice_eq(c->assignee, TL_SYSTEM_USER))
		rc = tl_err_set(err, TL_EINVALID, "assignee",
				"'%s' is the system user, not a member",
				TL_SYSTEM_USER);
	if (!rc && c->kind == TL_TASK_ASSIGN && !c->assignee.p && !c->unassign)
		rc = tl_err_set(err, TL_EINVALID, "assignee",
				"give a member or unassign");
	if (!rc && c->kind == TL_TASK_ASSIGN && c->assignee.p && c->unassign)
		rc = tl_err_set(err, TL_EINVALID, "assignee",
				"give a member or unassign, not both");
	tl_slice set[TL_TAGS_MAX];
	size_t distinct;
	if (!rc && !tags_distinct(c->tags, c->tags_len, set, &distinct))
		rc = tl_err_set(err, TL_EINVALID, "tag",
				"at most %d different tags", TL_TAGS_MAX);
	for (size_t i = 0; !rc && i < c->tags_len; i++)
		rc = c->kind == TL_TASK_UNTAG ? check_untag(c->tags[i], err)
					      : check_tag(c->tags[i], err);
	if (!rc && (c->kind == TL_TASK_TAG || c->kind == TL_TASK_UNTAG) &&
	    c->tags_len != 1)
		rc = tl_err_set(err, TL_EINVALID, "tag", "give exactly one tag");
	if (!rc && c->pipeline.p) {
		char q[64];
		rc = tl_err_set(err, TL_EINVALID, "pipeline",
				"unknown pipeline '%s' (no pipelines are defined)",
				tl_quote(c->pipeline, q, sizeof q));
	}
	if (!rc && c->stage.p) {
		char q[64];
		rc = tl_err_set(err, TL_EINVALID, "stage",
				"unknown stage '%s' (the task has no pipeline)",
				tl_quote(c->stage, q, sizeof q));
	}
	if (!rc && c->kind != TL_TASK_ADD) {
		/* Fields a command does not take are refused, not ignored. */
		static const struct {
			size_t off;
			const char *field;
			unsigned kinds;
		} only[] = {
			{ offsetof(tl_cmd, title), "title", 1u << TL_TASK_UPDATE },
			{ offsetof(tl_cmd, type), "type", 1u << TL_TASK_UPDATE },
			{ offsetof(tl_cmd, due), "due", 1u << TL_TASK_UPDATE },
			{ offsetof(tl_cmd, notes), "notes", 1u << TL_TASK_UPDATE },
			{ offsetof(tl_cmd, status), "status",
			  1u << TL_TASK_STATUS | 1u << TL_TASK_REOPEN },
			{ offsetof(tl_cmd, assignee), "assignee", 1u << TL_TASK_ASSIGN },
			{ offsetof(tl_cmd, link), "link", 0 },
		};
		for (size_t i = 0; !rc && i < sizeof only / sizeof only[0]; i++) {
			const tl_slice *f = (const tl_slice *)
				((const char *)c + only[i].off);
			if (f->p && !(only[i].kinds & (1u << c->kind)))
				rc = tl_err_set(err, TL_EINVALID, only[i].field,
						"is not an argument of this command");
		}
		if (!rc && c->no_due && c->kind != TL_TASK_UPDATE)
			rc = tl_err_set(err, TL_EINVALID, "due",
					"is not an argument of this command");
		if (!rc && c->tags_len && c->kind != TL_TASK_TAG &&
		    c->kind != TL_TASK_UNTAG)
			rc = tl_err_set(err, TL_EINVALID, "tag",
					"is not an argument of this command");
	}
	if (!rc && c->kind == TL_TASK_UPDATE && !c->title.p && !c->type.p &&
	    !c->due.p && !c->no_due && !c->notes.p)
		rc = tl_err_set(err, TL_EINVALID, NULL,
				"nothing to update (give a title, type, due time or no due, or notes)");
	return rc;
}

static int check_idem_key(tl_slice k, tl_err *err)
{
	if (!k.p)
		return 0;
	return tl_check_text(k, "idempotency_key", 1, TL_IDEM_MAX, false, err);
}

/* ---- look-ups --------------------------------------------------------- */

/* The acting member (CRM access required), looked up after the first
 * command's arguments passed, and again after each member command: a
 * batch that takes the actor's access or admin role away runs its later
 * commands as the member it made (since 0.3.17; they ran as the member
 * was at the batch's start, found by a review). */
static int need_actor(run *r, tl_err *err)
{
	if (r->actor_ok)
		return 0;
	int rc = tl_actor_resolve(r->t->db, r->t->cur, r->ctx, &r->actor,
				  &r->t->zone, err);
	r->actor_ok = rc == 0;
	r->actor_bad = rc != 0 && !r->actor_was_ok;
	r->actor_was_ok |= rc == 0;
	return rc;
}

/* An assignee must be a member (not the system user) with CRM access. */
static int check_assignee(run *r, tl_slice id, tl_err *err)
{
	tl_member m;
	char q[64];
	/* Batches name the same few members over and over; members do not
	 * change inside a batch of task commands. */
	if (tl_slice_eq(id, r->assignee_ok))
		return 0;
	int rc = tl_member_load(r->t->db, r->t->cur, id, &m, &r->t->zone, err);
	if (rc == TL_ENOTFOUND && tl_slice_eq(id, "unassigned"))
		/* a reserved word of the queries, no member's id */
		return tl_err_set(err, TL_EINVALID, "assignee",
				  "'unassigned' is no member (to leave a "
				  "task to no one: task assign ID "
				  "--unassign, or \"unassign\": true)");
	if (rc == TL_ENOTFOUND)
		return tl_err_set(err, TL_EINVALID, "assignee",
				  "unknown member '%s'",
				  tl_quote(id, q, sizeof q));
	if (rc)
		return rc;
	if (m.system)
		return tl_err_set(err, TL_EINVALID, "assignee",
				  "'%s' is the system user, not a member",
				  m.id);
	if (!m.crm_access)
		return tl_err_set(err, TL_EINVALID, "assignee",
				  "member '%s' has no CRM access", m.id);
	snprintf(r->assignee_ok, sizeof r->assignee_ok, "%s", m.id);
	return 0;
}

/* A notification id: the seq of its event, in decimal. */
static int parse_seq(tl_slice s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s.p || !s.len || s.len > 19)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	/* a seq, which is at most INT64_MAX (since 0.3.45: a larger one
	 * of 19 digits was "no notification") */
	return v && v <= INT64_MAX ? 0 : -1;
}

/* The fingerprint of an idempotent request: BLAKE2b over the acting
 * member, the time zone given for it and every field of the command as
 * given (each slice with its presence and length), the key and the clock
 * aside.  A retry of the same
 * request has the same one. */
static void fp_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
	crypto_generichash_update(st, p, n);
}

static void fp_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];
	tl_put_be64(b, v);
	fp_bytes(st, b, 8);
}

static void fp_slice(crypto_generichash_state *st, tl_slice s)
{
	fp_u64(st, s.p ? s.len : UINT64_MAX);
	if (s.p && s.len)
		fp_bytes(st, s.p, s.len);
}

/* The definitions of the fingerprint, newest first.  Since 0.3.18
 * (FP_IDS): the notification ids of `notifications read` as a set too
 * (sorted by value, each once: `read 5 4 4` is the request `read 4 5`
 * is; ids that are not all numbers, which the command refuses, as
 * given); for any other command the same bytes as FP_SET.  Since 0.3.17
 * (FP_SET): the tags as a set (sorted, each once: `--tag y --tag x` is
 * the request `--tag x --tag y` is), and the zone only for a command
 * with a due date, the one field it changes.  Records made before keep
 * matching the request their definition saw: from 0.3.0's c90a713 to
 * 0.3.16 (FP_ZONE) the zone dates are read in, always, and the tags in
 * the order given; before c90a713 the zone given for the request (or
 * none: a slice marked absent), and before that no zone at all. */
enum { FP_IDS, FP_SET, FP_ZONE, FP_GIVEN_ZONE, FP_NO_ZONE };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* a[0..n) sorted, each once: their number. */
static size_t seq_set(uint64_t *a, size_t n)
{
	qsort(a, n, sizeof *a, cmp_u64);
	size_t u = n ? 1 : 0;
	for (size_t i = 1; i < n; i++)
		if (a[i] != a[u - 1])
			a[u++] = a[i];
	return u;
}

/* The ids of c as a set, into set (TL_IDS_MAX): their number, or 0 when
 * one is not a number (then hashed as given). */
static size_t ids_set(const tl_cmd *c, uint64_t *set)
{
	if (!c->ids_len || c->ids_len > TL_IDS_MAX)
		return 0;
	for (size_t i = 0; i < c->ids_len; i++)
		if (parse_seq(c->ids[i], &set[i]))
			return 0;
	return seq_set(set, c->ids_len);
}

static int slice_order(const void *a, const void *b)
{
	const tl_slice *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = n ? memcmp(x->p, y->p, n) : 0;
	return d ? d : (x->len > y->len) - (x->len < y->len);
}

static void idem_fp(const run *r, const tl_cmd *c, int def,
		    uint8_t out[TL_IDEM_FP_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st,
				(const unsigned char *)(def <= FP_SET
								? "tasklog-idem-2"
								: "tasklog-idem-1"),
				14, TL_IDEM_FP_LEN);
	fp_slice(&st, tl_s(r->actor.id));
	if (def <= FP_SET)
		fp_slice(&st, c->due.p ? tl_s(r->tz) : (tl_slice){ NULL, 0 });
	else if (def == FP_ZONE)
		fp_slice(&st, tl_s(r->tz)); /* the zone dates are read in */
	else if (def == FP_GIVEN_ZONE)
		fp_slice(&st, tl_s(r->ctx ? r->ctx->tz : NULL));
	fp_u64(&st, (uint64_t)c->kind);
	const tl_slice *f[] = { &c->id,    &c->title,    &c->type,
				&c->status, &c->notes,   &c->link,
				&c->due,    &c->assignee, &c->pipeline,
				&c->stage,  &c->name,    &c->role };
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		fp_slice(&st, *f[i]);
	fp_u64(&st, (uint64_t)c->no_due << 1 | (uint64_t)c->unassign);
	fp_u64(&st, (uint64_t)(int64_t)c->crm_access);
	tl_slice set[TL_TAGS_MAX];
	const tl_slice *tags = c->tags;
	size_t n = c->tags_len;
	/* (more tags than a task holds: refused, whatever the order) */
	if (def <= FP_SET && tags_distinct(c->tags, n, set, &n)) {
		qsort(set, n, sizeof *set, slice_order);
		tags = set;
	}
	fp_u64(&st, n);
	for (size_t i = 0; i < n; i++)
		fp_slice(&st, tags[i]);
	uint64_t seqs[TL_IDS_MAX];
	size_t m = def == FP_IDS ? ids_set(c, seqs) : 0;
	if (m) { /* each as its decimal text, as a given id would be */
		fp_u64(&st, m);
		for (size_t i = 0; i < m; i++) {
			char b[24];
			int len = snprintf(b, sizeof b, "%llu",
					   (unsigned long long)seqs[i]);
			fp_slice(&st, (tl_slice){ b, (size_t)len });
		}
	} else {
		fp_u64(&st, c->ids_len);
		for (size_t i = 0; i < c->ids_len; i++)
			fp_slice(&st, c->ids[i]);
	}
	fp_u64(&st, c->has_expect_version);
	fp_u64(&st, c->has_expect_version ? c->expect_version : 0);
	crypto_generichash_final(&st, out, TL_IDEM_FP_LEN);
}

/* Whether stored is c's fingerprint by an earlier definition: 0.3.17's
 * (ids as given) and 0.3.0 to 0.3.16's for any record, the earlier 0.3.0
 * builds' for an 'F' record ('N' records came later).  Each definition
 * hashes other bytes, so a record made by one matches only a request the
 * same by that one. */
static bool idem_fp_legacy(const run *r, const tl_cmd *c, bool f_record,
			   const uint8_t *stored)
{
	uint8_t fp[TL_IDEM_FP_LEN];
	for (int def = c->ids_len ? FP_SET : FP_ZONE;
	     def <= (f_record ? FP_NO_ZONE : FP_ZONE); def++) {
		idem_fp(r, c, def, fp);
		if (!memcmp(fp, stored, TL_IDEM_FP_LEN))
			return true;
	}
	return false;
}

/* Look up c's idempotency key.  Returns 1 and fills res when found with
 * the same request; TL_ECONFLICT when it was used for another. */
static int idem_lookup(run *r, const tl_cmd *c, tl_result *res, tl_err *err)
{
	tl_txn *t = r->t;
	tl_slice key = c->idempotency_key;
	MDB_val k = { key.len, (void *)key.p }, v;
	char q[64];
	if (!key.p)
		return 0;
	idem_fp(r, c, FP_IDS, r->fp);
	int rc = mdb_get(t->cur, t->db->idem, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return tl_mdb_err(err, rc, "read idempotency key");
	if (v.mv_size < 9)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "corrupt idempotency record");
	const uint8_t *p = v.mv_data;
	uint64_t seq = tl_get_be64(p);
	size_t sk_len = v.mv_size - 8; /* the stream key, after p[8]... */
	p += 8;
	bool unchanged = p[0] == 'N'; /* the first run appended nothing */
	bool checked = p[0] == 'F' || unchanged; /* the request matched */
	if (checked) { /* the fingerprint (since 0.3) */
		if (sk_len < 1 + TL_IDEM_FP_LEN + 1)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "corrupt idempotency record");
		bool other = memcmp(p + 1, r->fp, TL_IDEM_FP_LEN) &&
			     !idem_fp_legacy(r, c, p[0] == 'F', p + 1);
		/* By a command before it in this batch: a seq that the
		 * batch's failure takes back (until 0.3.54 named as if
		 * written). */
		if (other && !unchanged && seq >= r->batch_seq)
			return tl_err_set(err, TL_ECONFLICT, "idempotency_key",
					  "key '%s' was used by an earlier "
					  "command of this batch for another "
					  "request",
					  tl_quote(key, q, sizeof q));
		if (other)
			return unchanged
				       ? tl_err_set(err, TL_ECONFLICT,
						    "idempotency_key",
						    "key '%s' was used for another request (which changed nothing)",
						    tl_quote(key, q, sizeof q))
				       : tl_err_set(err, TL_ECONFLICT,
						    "idempotency_key",
						    "key '%s' was used for another request (seq %llu)",
						    tl_quote(key, q, sizeof q),
						    (unsigned long long)seq);
		p += 1 + TL_IDEM_FP_LEN;
		sk_len -= 1 + TL_IDEM_FP_LEN;
	}
	/* The first result is read from the log, up to seq: it may be an
	 * event of this batch, still queued for its hash. */
	if ((rc = tl_chain_sync_to(t, seq, err)))
		return rc;
	tl_packer tp;
	msgpack_sbuffer_clear(&t->doc);
	msgpack_packer *pk = tl_packer_init(&tp, &t->doc);
	if (p[0] == 'T' && sk_len == 17) {
		tl_task task;
		rc = tl_task_fold_until(t->db, t->cur, p + 1, seq, INT64_MAX,
					&task, &t->zone, err);
		if (rc == TL_ENOTFOUND) /* the record names it: damaged */
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "idempotency record names a task with no events");
		if (rc)
			return rc;
		bool ok = tl_task_pack(&t->doc, &task);
		tl_task_release(&task);
		if (!ok)
			return tl_err_oom(err);
	} else {
		/* A member stream: the first result was a member document
		 * (its state at seq: for a change that changed nothing, seq
		 * is the stream's last event then, maybe a notification.read),
		 * or for notifications read made by the caller. */
		uint8_t kb[8];
		tl_event ev;
		tl_put_be64(kb, seq);
		MDB_val ek = { 8, kb }, evv;
		tl_slice id = { (const char *)p + 1 + 7, sk_len - 1 - 7 };
		if (p[0] != 'S' || sk_len < 1 + 7 ||
		    mdb_get(t->cur, t->db->events, &ek, &evv) ||
		    tl_event_decode(evv.mv_data, evv.mv_size, &ev, &t->zone,
				    &t->data))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "idempotency record names a missing event");
		if (c->kind == TL_NOTIFICATIONS_READ && checked) {
			/* the caller makes the result from the request,
			 * which the fingerprint says is the same */
		} else if (!checked &&
			   tl_slice_eq(ev.type, "notification.read")) {
			/* a record without fingerprint (0.2) answers any
			 * request under its key with the first result:
			 * the event's data, all its ids */
			if (msgpack_sbuffer_write(&t->doc,
						  (const char *)ev.data,
						  ev.data_len))
				return tl_err_oom(err);
		} else {
			tl_member m;
			rc = tl_member_fold_until(t->db, t->cur, id, seq, &m,
						  &t->zone, err);
			if (rc)
				return rc == TL_ENOTFOUND
					       ? tl_err_set(err, TL_ESTORAGE,
							    "storage",
							    "idempotency record names a missing member")
					       : rc;
			tl_member_pack(pk, &m);
			if (tp.failed)
				return tl_err_oom(err);
		}
	}
	res->seq = unchanged ? 0 : seq;
	res->appended = false;
	if (!(c->kind == TL_NOTIFICATIONS_READ && checked) &&
	    result_doc(t, res))
		return tl_err_oom(err);
	return 1;
}

/* Store key -> seq, the tag ('F': the first run appended up to seq; 'N':
 * it changed nothing, and seq is its target's last event then), the
 * request's fingerprint (idem_lookup made it) and the stream key of the
 * command's target. */
static int idem_put(run *r, tl_slice key, uint64_t seq, char tag,
		    tl_slice stream, tl_err *err)
{
	uint8_t buf[8 + 1 + TL_IDEM_FP_LEN + TL_STREAM_KEY_MAX];
	if (!key.p)
		return 0;
	tl_put_be64(buf, seq);
	buf[8] = (uint8_t)tag;
	memcpy(buf + 9, r->fp, TL_IDEM_FP_LEN);
	size_t n = 9 + TL_IDEM_FP_LEN;
	n += tl_stream_key(stream, buf + n);
	MDB_val k = { key.len, (void *)key.p }, v = { n, buf };
	int rc = mdb_put(r->t->cur, r->t->db->idem, &k, &v, MDB_NOOVERWRITE);
	return rc ? tl_mdb_err(err, rc, "store idempotency key") : 0;
}

static int idem_store(run *r, tl_slice key, uint64_t seq, tl_slice stream,
		      tl_err *err)
{
	return idem_put(r, key, seq, 'F', stream, err);
}

/* A request under a key that changed nothing is remembered too: its
 * retry returns the same result (the target as it was then, even when
 * others changed it since) and appends nothing, and another request
 * under the key is refused, as after one that appended. */
static int idem_store_unchanged(run *r, tl_slice key, tl_slice stream,
				tl_err *err)
{
	uint8_t sk[TL_STREAM_KEY_MAX];
	MDB_val k, v;
	MDB_cursor *c;
	uint64_t seq = 0;
	uint32_t ver;
	int rc;

	if (!key.p)
		return 0;
	k.mv_size = tl_stream_key(stream, sk);
	k.mv_data = sk;
	if ((rc = mdb_cursor_open(r->t->cur, r->t->db->streams, &c)))
		return tl_mdb_err(err, rc, "cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (!rc)
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP);
	mdb_cursor_close(c);
	if (!rc && !tl_stream_val(&v, &ver, &seq))
		rc = MDB_CORRUPTED;
	if (rc)
		return tl_mdb_err(err, rc, "read stream");
	return idem_put(r, key, seq, 'N', stream, err);
}

/* ---- appending -------------------------------------------------------- */

/* Append a task event whose data is in t->data, fold it into `task` (the
 * state before; NULL-safe for creation), apply views, store the task and
 * give the result. */
/* Append the event of ch (its data packed in t->data), apply it to task,
 * hand it to the views and store the task.  idtext: the task's id. */
static int emit_task_event(run *r, const tl_change *ch, tl_task *task,
			   const char idtext[37], bool is_new,
			   bool generated_id, tl_result *res, tl_err *err)
{
	tl_txn *t = r->t;
	const char *type = tl_change_type(ch->kind);
	tl_event ev;
	tl_task before;
	int rc;

	uint8_t skey[17] = { 'T' };
	memcpy(skey + 1, task->id, 16);
	tl_event_in in = {
		.type = type,
		.stream = { idtext, 36 },
		.skey = skey,
		.skey_len = 17,
		.new_stream = is_new && generated_id,
		.version = (uint32_t)(task->version + 1),
		.at_ms = r->now,
		.actor_id = tl_s(r->actor.id),
		.actor_system = r->actor.system,
		.data = (const uint8_t *)t->data.data,
		.data_len = t->data.size,
	};
	if ((rc = tl_log_append(t, &in, &ev, err)))
		return rc;
	bool have_before = false;
	tl_task was = { .deleted = task->deleted, .status = task->status };
	if (!is_new && t->db->views_len) {
		if (tl_task_copy(&before, task))
			return tl_err_oom(err);
		have_before = true;
	}
	rc = tl_task_apply(task, &ev, ch);
	if (!rc)
		tl_counts_note(t, is_new ? NULL : &was, task);
	if (rc) {
		rc = tl_err_set(err, TL_ESTORAGE, "storage",
				"cannot fold %s: out of memory", type);
		goto out;
	}
	msgpack_sbuffer_clear(&t->doc);
	if (!tl_task_pack(&t->doc, task)) {
		rc = tl_err_oom(err);
		goto out;
	}
	if (t->db->views_len) {
		/* Views may keep copies of the document: hand them this one. */
		t->after_doc = (const uint8_t *)t->doc.data;
		t->after_doc_len = t->doc.size;
		rc = tl_views_apply(t, &ev, have_before ? &before : NULL, task,
				    err);
		t->after_doc = NULL;
		if (rc)
			goto out;
	}
	MDB_val k = { 16, task->id }, v = { t->doc.size, t->doc.data };
	MDB_cursor *ct;
	if ((rc = tl_txn_cursor(t, t->db->tasks, &t->c_tasks))) {
		rc = tl_mdb_err(err, rc, "cursor");
		goto out;
	}
	ct = t->c_tasks;
	/* Generated ids are time-ordered: appending is the common case. */
	rc = MDB_KEYEXIST;
	if (generated_id)
		rc = mdb_cursor_put(ct, &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_cursor_put(ct, &k, &v, 0);
	if (rc) {
		rc = tl_mdb_err(err, rc, "store task");
		goto out;
	}
	res->seq = ev.seq;
	res->appended = true;
	if (result_doc(t, res))
		rc = tl_err_oom(err);
out:
	if (have_before)
		tl_task_release(&before);
	return rc;
}

/* Pack an event's data into t->data; the event is appended only when
 * r->data.failed stays false. */
static msgpack_packer *data_begin(run *r)
{
	msgpack_sbuffer_clear(&r->t->data);
	return tl_packer_init(&r->data, &r->t->data);
}

/* The task as it is, for a command that changes nothing. */
static int result_unchanged(run *r, const tl_task *task, tl_result *res,
			    tl_err *err)
{
	msgpack_sbuffer_clear(&r->t->doc);
	if (!tl_task_pack(&r->t->doc, task))
		return tl_err_oom(err);
	res->seq = 0;
	res->appended = false;
	if (result_doc(r->t, res))
		return tl_err_oom(err);
	return 0;
}

/* The notes a command sets: empty notes clear them (null). */
static tl_slice given_notes(const tl_cmd *c)
{
	return c->notes.len ? c->notes : (tl_slice){ NULL, 0 };
}

static int task_add(run *r, const tl_cmd *c, const args *a, tl_result *res,
		    tl_err *err)
{
	tl_txn *t = r->t;
	tl_task task;
	int rc;

	tl_slice tags[TL_TAGS_MAX];
	tl_change ch = {
		.kind = TL_EV_CREATED,
		.set = TL_CH_TITLE | TL_CH_TYPE | TL_CH_STATUS | TL_CH_DUE |
		       TL_CH_ASSIGNEE | TL_CH_NOTES | TL_CH_LINK_TYPE |
		       TL_CH_LINK_ID | TL_CH_PIPELINE | TL_CH_STAGE,
		.title = c->title,
		.assignee = c->assignee,
		.notes = given_notes(c),
		.link_id = a->link_id,
		.type = a->type >= 0 ? a->type : 7,
		.status = a->status >= 0 ? a->status : 0,
		.link_type = a->link_type,
		.has_due = a->has_due,
		.due = a->has_due ? a->due : 0,
		.tags = tags,
	};
	char idtext[37];

	memset(&task, 0, sizeof task);
	if (c->assignee.p && (rc = check_assignee(r, c->assignee, err)))
		return rc;
	if (a->has_id) {
		MDB_val k = { 16, (void *)a->id }, v;
		rc = mdb_get(t->cur, t->db->tasks, &k, &v);
		if (rc == 0) {
			tl_uuid_format(a->id, idtext);
			return tl_err_set(err, TL_ECONFLICT, "id",
					  "task %s already exists", idtext);
		}
		if (rc != MDB_NOTFOUND)
			return tl_mdb_err(err, rc, "read task");
		memcpy(task.id, a->id, 16);
	} else {
		tl_uuid_v7(r->now, task.id);
	}
	memcpy(ch.id, task.id, 16);
	tl_uuid_format(task.id, idtext);
	if (c->has_expect_version && c->expect_version != 0)
		return tl_err_set(err, TL_ECONFLICT, "expect_version",
				  "expected version %llu, the task does not exist yet",
				  (unsigned long long)c->expect_version);

	/* Tags form a set: repeated ones are packed once (at most
	 * TL_TAGS_MAX different ones, checked with the arguments). */
	if (!tags_distinct(c->tags, c->tags_len, tags, &ch.tags_len))
		return tl_err_set(err, TL_EINVALID, "tag",
				  "at most %d different tags", TL_TAGS_MAX);
	msgpack_sbuffer_clear(&t->data);
	if (!tl_change_pack(&t->data, &ch, NULL))
		return tl_err_oom(err);
	rc = emit_task_event(r, &ch, &task, idtext, true, !a->has_id, res,
			     err);
	if (!rc)
		rc = idem_store(r, c->idempotency_key, res->seq,
				(tl_slice){ idtext, 36 }, err);
	tl_task_release(&task);
	return rc;
}

static bool str_eq(const char *a, tl_slice b)
{
	if (!a)
		return b.p == NULL;
	return b.p && strlen(a) == b.len && memcmp(a, b.p, b.len) == 0;
}

/* The typed change of task.updated: the fields pack_update packs. */
static void update_change(const tl_cmd *c, const args *a,
			  const tl_task *task, tl_change *ch)
{
	if (c->title.p && !str_eq(task->title, c->title)) {
		ch->set |= TL_CH_TITLE;
		ch->title = c->title;
	}
	if (a->type >= 0 && a->type != task->type) {
		ch->set |= TL_CH_TYPE;
		ch->type = a->type;
	}
	if ((c->no_due && task->has_due) ||
	    (a->has_due && (!task->has_due || task->due_at != a->due))) {
		ch->set |= TL_CH_DUE;
		ch->has_due = a->has_due;
		ch->due = a->has_due ? a->due : 0;
	}
	if (c->notes.p && !str_eq(task->notes, given_notes(c))) {
		ch->set |= TL_CH_NOTES;
		ch->notes = given_notes(c);
	}
}

static int task_change(run *r, const tl_cmd *c, const args *a,
		       tl_result *res, tl_err *err)
{
	tl_txn *t = r->t;
	tl_task task;
	tl_change ch = { .kind = -1 };
	char idtext[37];
	int rc;

	tl_uuid_format(a->id, idtext);
	rc = tl_task_load(t->db, t->cur, a->id, &task, &t->zone, err);
	if (rc == MDB_NOTFOUND)
		return tl_err_set(err, TL_ENOTFOUND, "id", "no task %s",
				  idtext);
	if (rc)
		return rc;
	if (task.deleted) {
		rc = tl_err_set(err, TL_ENOTFOUND, "id",
				"task %s was deleted", idtext);
		goto out;
	}
	if (c->has_expect_version && c->expect_version != task.version) {
		rc = tl_err_set(err, TL_ECONFLICT, "expect_version",
				"expected version %llu, the task is at version %llu",
				(unsigned long long)c->expect_version,
				(unsigned long long)task.version);
		goto out;
	}
	/* The assignee it already has is no change (SPEC §1), even once
	 * that member lost CRM access: a retried assignment must not fail. */
	if (c->kind == TL_TASK_ASSIGN && c->assignee.p &&
	    !str_eq(task.assignee, c->assignee) &&
	    (rc = check_assignee(r, c->assignee, err)))
		goto out;

	switch (c->kind) {
	case TL_TASK_UPDATE:
		update_change(c, a, &task, &ch);
		if (ch.set)
			ch.kind = TL_EV_UPDATED;
		break;
	case TL_TASK_ASSIGN:
		if (str_eq(task.assignee, c->assignee))
			break;
		ch.kind = TL_EV_ASSIGNED;
		ch.set = TL_CH_ASSIGNEE;
		ch.assignee = c->assignee;
		break;
	case TL_TASK_STATUS:
	case TL_TASK_COMPLETE: {
		int st = c->kind == TL_TASK_COMPLETE ? TL_ST_COMPLETED
						     : a->status;
		if (st == task.status)
			break;
		ch.kind = st == TL_ST_COMPLETED ? TL_EV_COMPLETED
						: TL_EV_STATUS_CHANGED;
		ch.set = TL_CH_STATUS;
		ch.status = st;
		break;
	}
	case TL_TASK_REOPEN: {
		/* an open task is left as it is: reopening one twice
		 * changes nothing the second time */
		int st = c->status.p ? a->status : TL_ST_TODO;
		if (tl_status_active(task.status))
			break;
		ch.kind = TL_EV_STATUS_CHANGED;
		ch.set = TL_CH_STATUS;
		ch.status = st;
		break;
	}
	case TL_TASK_TAG:
	case TL_TASK_UNTAG:
		if (tl_task_has_tag(&task, c->tags[0]) ==
		    (c->kind == TL_TASK_TAG))
			break;
		/* A task holds at most as many tags as it can be made with. */
		if (c->kind == TL_TASK_TAG && task.tags_len >= TL_TAGS_MAX) {
			rc = tl_err_set(err, TL_EINVALID, "tag",
					"task %s has %zu tags, at most %d allowed",
					idtext, task.tags_len, TL_TAGS_MAX);
			goto out;
		}
		ch.kind = c->kind == TL_TASK_TAG ? TL_EV_TAGGED
						 : TL_EV_UNTAGGED;
		ch.tag = c->tags[0];
		break;
	case TL_TASK_DELETE:
		ch.kind = TL_EV_DELETED;
		break;
	default:
		rc = tl_err_set(err, TL_EINVALID, "command", "unknown command");
		goto out;
	}
	if (ch.kind < 0) {
		rc = result_unchanged(r, &task, res, err);
		if (!rc)
			rc = idem_store_unchanged(r, c->idempotency_key,
						  (tl_slice){ idtext, 36 },
						  err);
		goto out;
	}
	msgpack_sbuffer_clear(&t->data);
	if (!tl_change_pack(&t->data, &ch, &task)) {
		rc = tl_err_oom(err);
		goto out;
	}
	rc = emit_task_event(r, &ch, &task, idtext, false, false, res, err);
	if (!rc)
		rc = idem_store(r, c->idempotency_key, res->seq,
				(tl_slice){ idtext, 36 }, err);
out:
	tl_task_release(&task);
	return rc;
}

/* ---- members ------------------------------------------------------------ */

static int member_emit(run *r, const tl_member *m, const char *type,
		       uint32_t version, tl_slice idem, tl_result *res,
		       tl_err *err)
{
	tl_txn *t = r->t;
	char stream[8 + TL_MEMBER_ID_MAX];
	int n = snprintf(stream, sizeof stream, "member:%s", m->id);
	tl_event ev;
	if (r->data.failed)
		return tl_err_oom(err);
	tl_event_in in = {
		.type = type,
		.stream = { stream, (size_t)n },
		.version = version,
		.at_ms = r->now,
		.actor_id = tl_s(r->actor.id),
		.actor_system = r->actor.system,
		.data = (const uint8_t *)t->data.data,
		.data_len = t->data.size,
	};
	int rc = tl_log_append(t, &in, &ev, err);
	if (rc)
		return rc;
	if (t->db->views_len && (rc = tl_views_apply(t, &ev, NULL, NULL, err)))
		return rc;
	tl_packer tp;
	msgpack_sbuffer_clear(&t->doc);
	tl_member_pack(tl_packer_init(&tp, &t->doc), m);
	if (tp.failed)
		return tl_err_oom(err);
	MDB_val k = { strlen(m->id), (void *)m->id };
	MDB_val v = { t->doc.size, t->doc.data };
	if ((rc = mdb_put(t->cur, t->db->members, &k, &v, 0)))
		return tl_mdb_err(err, rc, "store member");
	res->seq = ev.seq;
	res->appended = true;
	if (result_doc(t, res))
		return tl_err_oom(err);
	return idem_store(r, idem, ev.seq, in.stream, err);
}

/* The number of events of stream "member:ID", for the next version. */
static int stream_count(run *r, const char *member, uint64_t *count,
			tl_err *err)
{
	uint8_t sk[TL_STREAM_KEY_MAX];
	MDB_val k = { tl_member_stream_key(tl_s(member), sk), sk };
	MDB_val v;
	MDB_cursor *cur;
	size_t n = 0;
	int rc = mdb_cursor_open(r->t->cur, r->t->db->streams, &cur);
	if (rc)
		return tl_mdb_err(err, rc, "cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_count(cur, &n);
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "count stream");
	*count = n;
	return 0;
}

static int member_cmd(run *r, const tl_cmd *c, tl_result *res, tl_err *err)
{
	tl_txn *t = r->t;
	tl_member m, old;
	msgpack_packer *pk;
	char q[64];
	int role = -1, rc;
	static const char *const roles[2] = { "member", "admin" };

	if (!tl_member_id_valid(c->id))
		return tl_err_set(err, TL_EINVALID, "id",
				  "member id '%s' must be 1..64 of [a-z0-9._-]",
				  tl_quote(c->id, q, sizeof q));
	if (c->has_expect_version)
		return tl_err_set(err, TL_EINVALID, "expect_version",
				  "is not an argument of member commands");
	/* Only new ids: a member of an older workspace keeps its id. */
	if (c->kind == TL_MEMBER_ADD &&
	    (rc = tl_member_id_unreserved(c->id, "id", err)))
		return rc;
	if (c->kind == TL_MEMBER_ADD || c->name.p)
		if ((rc = tl_check_text(c->name, "name", 1, TL_NAME_MAX, false,
					err)))
			return rc;
	if (c->role.p && (rc = check_enum(c->role, "role", roles, 2, &role,
					  err)))
		return rc;
	/* 0, 1 or -1 (before 0.3.51 any other value passed as 1 or -1) */
	if (c->crm_access < -1 || c->crm_access > 1)
		return tl_err_set(err, TL_EINVALID, "crm_access",
				  "must be 0 (as is), 1 (grant) or -1 "
				  "(revoke), not %d", c->crm_access);
	if ((rc = check_idem_key(c->idempotency_key, err)))
		return rc;
	if (c->kind == TL_MEMBER_UPDATE && !c->name.p && !c->role.p &&
	    !c->crm_access)
		return tl_err_set(err, TL_EINVALID, NULL,
				  "nothing to update (give a name, role or CRM access)");
	if ((rc = need_actor(r, err)))
		return rc;
	if (!r->actor.admin)
		return tl_err_set(err, TL_EFORBIDDEN, "as",
				  "member '%s' is not an admin", r->actor.id);
	if ((rc = idem_lookup(r, c, res, err)))
		return rc < 0 ? rc : 0;

	rc = tl_member_load(t->db, t->cur, c->id, &old, &t->zone, err);
	if (rc && rc != TL_ENOTFOUND)
		return rc;
	if (tl_slice_eq(c->id, TL_SYSTEM_USER))
		return tl_err_set(err, c->kind == TL_MEMBER_ADD ? TL_ECONFLICT
								: TL_EFORBIDDEN,
				  "id", "'%s' is the system user",
				  TL_SYSTEM_USER);
	if (c->kind == TL_MEMBER_ADD) {
		if (rc == 0)
			return tl_err_set(err, TL_ECONFLICT, "id",
					  "member '%s' already exists", old.id);
		memset(&m, 0, sizeof m);
		memcpy(m.id, c->id.p, c->id.len);
		memcpy(m.name, c->name.p, c->name.len);
		m.admin = role == 1;
		m.crm_access = c->crm_access >= 0;
		tl_member_pack(data_begin(r), &m);
		return member_emit(r, &m, "member.added", 1,
				   c->idempotency_key, res, err);
	}
	if (rc == TL_ENOTFOUND)
		return tl_err_set(err, TL_ENOTFOUND, "id", "no member '%s'",
				  tl_quote(c->id, q, sizeof q));
	m = old;
	if (c->name.p) {
		memset(m.name, 0, sizeof m.name);
		memcpy(m.name, c->name.p, c->name.len);
	}
	if (role >= 0)
		m.admin = role == 1;
	if (c->crm_access)
		m.crm_access = c->crm_access > 0;
	bool name = strcmp(m.name, old.name) != 0;
	bool adm = m.admin != old.admin, crm = m.crm_access != old.crm_access;
	if (!name && !adm && !crm) {
		tl_packer tp;
		msgpack_sbuffer_clear(&t->doc);
		tl_member_pack(tl_packer_init(&tp, &t->doc), &m);
		res->seq = 0;
		if (tp.failed || result_doc(t, res))
			return tl_err_oom(err);
		char stream[8 + TL_MEMBER_ID_MAX];
		int sn = snprintf(stream, sizeof stream, "member:%s", m.id);
		return idem_store_unchanged(r, c->idempotency_key,
					    (tl_slice){ stream, (size_t)sn },
					    err);
	}
	if (old.admin && old.crm_access && !(m.admin && m.crm_access)) {
		int others = tl_member_other_admins(t->db, t->cur, m.id,
						    &t->zone, err);
		if (others < 0)
			return others;
		if (others == 0)
			return tl_err_set(err, TL_EINVALID,
					  adm ? "role" : "crm_access",
					  "'%s' is the last admin with CRM "
					  "access",
					  m.id);
	}

	uint64_t count = 0; /* (gcc 12 sees a path that leaves it unset) */
	if ((rc = stream_count(r, m.id, &count, err)))
		return rc;

	pk = data_begin(r);
	msgpack_pack_map(pk, 2);
	for (int prev = 0; prev < 2; prev++) {
		const tl_member *s = prev ? &old : &m;
		tl_pack_cstr(pk, prev ? "previous" : "changes");
		msgpack_pack_map(pk, name + adm + crm);
		if (name) {
			TL_KEY(pk, "name");
			tl_pack_cstr(pk, s->name);
		}
		if (adm) {
			TL_KEY(pk, "role");
			tl_pack_cstr(pk, s->admin ? "admin" : "member");
		}
		if (crm) {
			TL_KEY(pk, "crm_access");
			if (s->crm_access)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
		}
	}
	return member_emit(r, &m, "member.updated", (uint32_t)count + 1,
			   c->idempotency_key, res, err);
}

/* ---- notifications -------------------------------------------------- */

/* A notification is the task.created or task.assigned event that gave a
 * task to a member other than its actor; its id is that event's seq.
 * Also import's check of an imported notification.read (import.c). */
int tl_notification_check(tl_txn *t, tl_slice member, uint64_t seq,
			  tl_err *err)
{
	uint8_t kb[8];
	tl_event ev;
	msgpack_object d;
	size_t off = 0;
	tl_put_be64(kb, seq);
	MDB_val k = { 8, kb }, v;
	int rc = mdb_get(t->cur, t->db->events, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read event");
	/* Only an event that is not such a notification is "not found";
	 * one that cannot be read (damaged, or memory ran out) is a
	 * storage error. */
	bool ok = rc == 0;
	if (ok && tl_event_decode(v.mv_data, v.mv_size, &ev, &t->zone,
				  &t->doc))
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "cannot read event %llu",
				  (unsigned long long)seq);
	ok = ok &&
	     (tl_slice_eq(ev.type, "task.assigned") ||
	      tl_slice_eq(ev.type, "task.created")) &&
	     !(ev.actor_id.len == member.len &&
	       !memcmp(ev.actor_id.p, member.p, member.len));
	if (ok && tl_mp_unpack(ev.data, ev.data_len, &off, &t->zone, &d) !=
			  MSGPACK_UNPACK_SUCCESS)
		return tl_err_set(err, TL_ESTORAGE, "storage",
				  "cannot read the data of event %llu",
				  (unsigned long long)seq);
	if (ok) {
		tl_slice a = tl_obj_slice(tl_map_get(&d, "assignee"));
		ok = a.p && a.len == member.len &&
		     !memcmp(a.p, member.p, member.len);
	}
	if (ok) {
		uint8_t id[16];
		tl_task task;
		if (!tl_uuid_parse(ev.stream, id))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "event %llu: stream is not a task id",
					  (unsigned long long)seq);
		if ((rc = tl_task_load(t->db, t->cur, id, &task, &t->zone,
				       err)))
			return rc == MDB_NOTFOUND /* tl_task_load's */
				       ? tl_err_set(err, TL_ESTORAGE,
						    "storage",
						    "event %llu: its task is not stored",
						    (unsigned long long)seq)
				       : rc;
		ok = !task.deleted;
		tl_task_release(&task);
	}
	if (!ok)
		return tl_err_set(err, TL_ENOTFOUND, "ids",
				  "member '%.*s' has no notification %llu",
				  (int)member.len, member.p,
				  (unsigned long long)seq);
	return 0;
}


/* What notifications read gives: the member and the ids asked for (each
 * once), all of them read now, whether this request marked them or an
 * earlier one had. */
static int read_result(tl_txn *t, const char *member, const uint64_t *seqs,
		       size_t n, tl_result *res, tl_err *err)
{
	tl_packer tp;
	msgpack_sbuffer_clear(&t->doc);
	msgpack_packer *pk = tl_packer_init(&tp, &t->doc);
	msgpack_pack_map(pk, 2);
	TL_KEY(pk, "member");
	tl_pack_cstr(pk, member);
	TL_KEY(pk, "ids");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		msgpack_pack_uint64(pk, seqs[i]);
	if (tp.failed || result_doc(t, res))
		return tl_err_oom(err);
	return 0;
}

/* Which of the notifications seqs[0..n) the member has read already:
 * read[i] is set when a notification.read event of the member's stream
 * names seqs[i]; *version is the member stream's last.  From the marks
 * of reads.c, caught up first: one look-up per id (up to 0.3.49 a walk
 * of the member's stream back to the oldest id, quadratic for a backlog
 * read one id at a time, oldest first). */
static int already_read(run *r, const char *member, const uint64_t *seqs,
			size_t n, bool *read, uint32_t *version, tl_err *err)
{
	int rc = tl_reads_catch_up(r->t, member, version, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = tl_reads_marked(r->t, member, seqs[i], &read[i], err);
	return rc;
}

static int notifications_read(run *r, const tl_cmd *c, tl_result *res,
			      tl_err *err)
{
	tl_txn *t = r->t;
	tl_slice member = c->id;
	uint64_t seqs[TL_IDS_MAX];
	msgpack_packer *pk;
	char q[64];
	int rc;

	if (member.p && (rc = tl_member_ref_check(member, "member", err)))
		return rc;
	if (!c->ids_len)
		return tl_err_set(err, TL_EINVALID, "ids",
				  "give at least one notification id");
	if (c->ids_len > TL_IDS_MAX)
		return tl_err_set(err, TL_EINVALID, "ids",
				  "at most %d ids at once", TL_IDS_MAX);
	size_t nseqs = 0;
	for (size_t i = 0; i < c->ids_len; i++) {
		uint64_t seq;
		if (parse_seq(c->ids[i], &seq))
			return tl_err_set(err, TL_EINVALID, "ids",
					  "'%s' is not a notification id",
					  tl_quote(c->ids[i], q, sizeof q));
		seqs[nseqs++] = seq;
	}
	/* a set: an id given twice is read once, and the answer lists them
	 * in ascending order, whatever order a retry gives them in */
	nseqs = seq_set(seqs, nseqs);
	if ((rc = check_idem_key(c->idempotency_key, err)) ||
	    (rc = need_actor(r, err)))
		return rc;
	/* none, or `me` (reserved: no member's id), is the actor */
	if (!member.p || tl_slice_eq(member, "me"))
		member = tl_s(r->actor.id);
	if (!tl_slice_eq(member, r->actor.id) && !r->actor.admin)
		return tl_err_set(err, TL_EFORBIDDEN, "member",
				  "only admins read other members' notifications");
	int replay = idem_lookup(r, c, res, err);
	if (replay < 0)
		return replay;
	tl_member m;
	rc = tl_member_load(t->db, t->cur, member, &m, &t->zone, err);
	if (rc == TL_ENOTFOUND)
		return tl_err_set(err, TL_ENOTFOUND, "member",
				  "no member '%s'",
				  tl_quote(member, q, sizeof q));
	if (rc)
		return rc;
	if (replay) /* made by idem_lookup, or made here from the request */
		return res->doc ? 0 : read_result(t, m.id, seqs, nseqs, res, err);
	/* The checks below read the log: this batch's events too. */
	if ((rc = tl_chain_sync(t, err)))
		return rc;
	for (size_t i = 0; i < nseqs; i++)
		if ((rc = tl_notification_check(r->t, member, seqs[i], err)))
			return rc;

	/* Only the unread ones go into the event; when all are read
	 * already, nothing is appended (as for a task change that changes
	 * nothing) and the result is the same. */
	bool read[TL_IDS_MAX];
	size_t fresh = 0;
	char stream[8 + TL_MEMBER_ID_MAX];
	int sn = snprintf(stream, sizeof stream, "member:%s", m.id);
	uint32_t version; /* the member stream's last */
	if ((rc = already_read(r, m.id, seqs, nseqs, read, &version, err)))
		return rc;
	for (size_t i = 0; i < nseqs; i++)
		fresh += !read[i];
	if (!fresh) {
		res->seq = 0;
		if ((rc = read_result(t, m.id, seqs, nseqs, res, err)))
			return rc;
		return idem_store_unchanged(r, c->idempotency_key,
					    (tl_slice){ stream, (size_t)sn },
					    err);
	}
	pk = data_begin(r);
	msgpack_pack_map(pk, 2);
	TL_KEY(pk, "member");
	tl_pack_cstr(pk, m.id);
	TL_KEY(pk, "ids");
	msgpack_pack_array(pk, fresh);
	for (size_t i = 0; i < nseqs; i++)
		if (!read[i])
			msgpack_pack_uint64(pk, seqs[i]);
	if (r->data.failed)
		return tl_err_oom(err);

	tl_event ev;
	tl_event_in in = {
		.type = "notification.read",
		.stream = { stream, (size_t)sn },
		.version = version + 1,
		.at_ms = r->now,
		.actor_id = tl_s(r->actor.id),
		.actor_system = r->actor.system,
		.data = (const uint8_t *)t->data.data,
		.data_len = t->data.size,
	};
	if ((rc = tl_log_append(t, &in, &ev, err)))
		return rc;
	if (t->db->views_len && (rc = tl_views_apply(t, &ev, NULL, NULL, err)))
		return rc;
	uint64_t marks[TL_IDS_MAX];
	size_t nm = 0;
	for (size_t i = 0; i < nseqs; i++)
		if (!read[i])
			marks[nm++] = seqs[i];
	if ((rc = tl_reads_mark(t, m.id, marks, nm, in.version, err)))
		return rc;
	res->seq = ev.seq;
	res->appended = true;
	if ((rc = read_result(t, m.id, seqs, nseqs, res, err)))
		return rc;
	return idem_store(r, c->idempotency_key, ev.seq, in.stream, err);
}

/* ---- dispatch -------------------------------------------------------- */

static int exec_one(run *r, const tl_cmd *c, tl_result *res, tl_err *err)
{
	args a;
	int rc;
	/* A count without its array (since 0.3.51; it crashed before), as
	 * tl_db_open refuses views_len without views. */
	if (c->tags_len && !c->tags)
		return tl_err_set(err, TL_EINVALID, "tag",
				  "tags_len %zu without tags", c->tags_len);
	if (c->ids_len && !c->ids)
		return tl_err_set(err, TL_EINVALID, "ids",
				  "ids_len %zu without ids", c->ids_len);
	switch (c->kind) {
	case TL_MEMBER_ADD:
	case TL_MEMBER_UPDATE:
		/* members change: forget what passed, the actor too */
		r->assignee_ok[0] = 0;
		rc = member_cmd(r, c, res, err);
		r->actor_ok = false;
		return rc;
	case TL_NOTIFICATIONS_READ:
		return notifications_read(r, c, res, err);
	case TL_TASK_ADD:
	case TL_TASK_UPDATE:
	case TL_TASK_ASSIGN:
	case TL_TASK_STATUS:
	case TL_TASK_COMPLETE:
	case TL_TASK_REOPEN:
	case TL_TASK_TAG:
	case TL_TASK_UNTAG:
	case TL_TASK_DELETE:
		break;
	default:
		return tl_err_set(err, TL_EINVALID, "command",
				  "unknown command kind %d", (int)c->kind);
	}
	if ((rc = check_task_args(r, c, &a, err)) ||
	    (rc = check_idem_key(c->idempotency_key, err)) ||
	    (rc = need_actor(r, err)))
		return rc;
	if ((rc = idem_lookup(r, c, res, err)))
		return rc < 0 ? rc : 0;
	/* `me` as the assignee is the acting member (no member's id: it
	 * is reserved), as `task list --assignee me` reads it */
	tl_cmd me;
	if (c->assignee.p && tl_slice_eq(c->assignee, "me")) {
		if (!strcmp(r->actor.id, TL_SYSTEM_USER))
			return tl_err_set(err, TL_EINVALID, "assignee",
					  "'me' is the system user here, "
					  "never an assignee");
		me = *c;
		me.assignee = tl_s(r->actor.id);
		c = &me;
	}
	if (c->kind == TL_TASK_ADD)
		return task_add(r, c, &a, res, err);
	if (a.id_short &&
	    (rc = tl_task_find_suffix(r->t->db, r->t->cur, false,
				      &a.id_suffix, c->id, "id", a.id, err)))
		return rc;
	return task_change(r, c, &a, res, err);
}

static int run_batch_docs(tl_txn *t, const tl_ctx *ctx, const tl_cmd *cmds,
			  size_t n, tl_result *results, tl_err *err)
{
	run r = { .t = t, .ctx = ctx, .batch_seq = t->next_seq };
	tl_result scratch; /* when the caller wants no results */
	MDB_val v;
	int rc;

	if (n && !cmds) /* (it crashed before 0.3.51) */
		return tl_err_set(err, TL_EINVALID, "cmds",
				  "%zu commands without their array", n);
	for (size_t i = 0; results && i < n; i++)
		memset(&results[i], 0, sizeof results[i]);
	msgpack_zone_clear(&t->zone);
	if (ctx && ctx->now_ms && !tl_time_in_range(ctx->now_ms))
		return tl_err_set(err, TL_EINVALID, "now",
				  "%lld ms is not in the years 1970 to 9999 "
				  "UTC", (long long)ctx->now_ms);
	r.now = ctx && ctx->now_ms ? ctx->now_ms : tl_time_now();
	snprintf(r.tz, sizeof r.tz, "UTC");
	if (ctx && ctx->tz) {
		char q[88];
		if (!tl_tz_valid(ctx->tz))
			return tl_err_set(err, TL_EINVALID, "tz",
					  "unknown time zone '%s'",
					  tl_quote_max(tl_s(ctx->tz), 64, q,
						       sizeof q));
		snprintf(r.tz, sizeof r.tz, "%s", ctx->tz);
	} else if (tl_meta_get(t->db, t->cur, "tz", &v) == 0 &&
		   v.mv_size < sizeof r.tz) {
		memcpy(r.tz, v.mv_data, v.mv_size);
		r.tz[v.mv_size] = 0;
	}
	/* No command: the actor is still checked (else after the first
	 * command's arguments). */
	if (!n && (rc = need_actor(&r, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		tl_result *res = results ? &results[i] : &scratch;
		if (!results)
			memset(&scratch, 0, sizeof scratch);
		rc = exec_one(&r, &cmds[i], res, err);
		if (!results)
			tl_result_release(&scratch);
		if (rc) {
			if (err)
				err->index = r.actor_bad ? -1 : (int)i;
			for (size_t j = 0; results && j <= i; j++)
				tl_result_release(&results[j]);
			return rc;
		}
		/* The zone holds per-command decodings only. */
		msgpack_zone_clear(&t->zone);
	}
	return 0;
}

static int run_batch(tl_txn *t, const tl_ctx *ctx, const tl_cmd *cmds,
		     size_t n, tl_result *results, tl_err *err)
{
	t->docs = NULL;
	t->no_docs = !results;
	t->docs_cmds = n;
	int rc = run_batch_docs(t, ctx, cmds, n, results, err);
	docs_end(t);
	return rc;
}

/* A big batch hashes its events on a second thread (chain.c); they are
 * stored before this returns, or dropped with the batch. */
static int run_cmds(tl_txn *t, const tl_ctx *ctx, const tl_cmd *cmds,
		    size_t n, tl_result *results, tl_err *err)
{
	bool chained = n >= tl_chain_min && !t->chain && tl_chain_begin(t);
	int rc = run_batch(t, ctx, cmds, n, results, err);
	if (!chained)
		return rc;
	if (!rc && (rc = tl_chain_end(t, err)))
		for (size_t i = 0; results && i < n; i++)
			tl_result_release(&results[i]);
	tl_chain_discard(t);
	return rc;
}

int tl_txn_nested(tl_txn *t, int (*fn)(tl_txn *t, void *arg, tl_err *err),
		  void *arg, bool *commit_failed, tl_err *err)
{
	*commit_failed = false;
	int rc = tl_txn_on_its_thread(t, err);
	if (rc)
		return rc;
	if (t->need_grow)
		return tl_err_set(err, TL_EAGAIN, "storage",
				  "map full: abort this transaction, then run its requests again");
	if (t->broken)
		return tl_txn_broken_err(t, "abort it", err);
	/* The views' writes deferred so far, to sorted runs on disk once
	 * they are many (none nested is open, so none is taken back): a
	 * transaction of millions of commands holds a bounded part of them
	 * in memory. */
	rc = tl_views_spill_early(t->db, err);
	if (rc) {
		t->broken = true;
		return rc;
	}
	if (t->all_or_nothing) { /* in the transaction itself */
		if ((rc = fn(t, arg, err))) {
			t->broken = t->request_failed = rc != TL_EAGAIN;
			t->need_grow = rc == TL_EAGAIN;
		}
		return rc;
	}
	uint64_t seq = t->next_seq;
	int64_t d_tasks = t->d_tasks, d_active = t->d_active;
	uint8_t hash[TL_HASH_LEN];
	MDB_txn *child;
	memcpy(hash, t->prev_hash, TL_HASH_LEN);
	rc = mdb_txn_begin(t->db->env, t->txn, 0, &child);
	if (rc)
		return tl_mdb_err(err, rc, "begin nested");
	/* A new txn may reuse an ended one's address: forget the cursors
	 * explicitly whenever the txn appends go to changes. */
	t->cur = child;
	t->cursors_of = NULL;
	tl_views_defer_mark(t->db);
	rc = fn(t, arg, err);
	if (rc == 0 && (rc = mdb_txn_commit(child))) {
		rc = tl_mdb_err(err, rc, "commit nested");
		*commit_failed = true;
	} else if (rc) {
		mdb_txn_abort(child);
	}
	t->cur = t->txn;
	t->cursors_of = NULL;
	if (rc) {
		tl_views_defer_rollback(t->db);
		t->next_seq = seq;
		t->d_tasks = d_tasks;
		t->d_active = d_active;
		memcpy(t->prev_hash, hash, TL_HASH_LEN);
		/* The map can only grow once no transaction is open. */
		if (rc == TL_EAGAIN)
			t->need_grow = true;
	}
	return rc;
}

struct exec_args {
	const tl_ctx *ctx;
	const tl_cmd *cmds;
	size_t n;
	tl_result *results;
};

static int exec_nested(tl_txn *t, void *arg, tl_err *err)
{
	struct exec_args *a = arg;
	return run_cmds(t, a->ctx, a->cmds, a->n, a->results, err);
}

void tl_txn_all_or_nothing(tl_txn *t)
{
	t->all_or_nothing = true;
}

int tl_txn_exec(tl_txn *t, const tl_ctx *ctx, const tl_cmd *cmds, size_t n,
		tl_result *results, tl_err *err)
{
	struct exec_args a = { ctx, cmds, n, results };
	bool commit_failed;
	if (err)
		err->index = -1;
	int rc = tl_txn_nested(t, exec_nested, &a, &commit_failed, err);
	for (size_t i = 0; commit_failed && results && i < n; i++)
		tl_result_release(&results[i]);
	return rc;
}

int tl_exec(tl_db *db, const tl_ctx *ctx, const tl_cmd *cmds, size_t n,
	    tl_result *results, tl_err *err)
{
	if (err)
		err->index = -1;
	for (;;) {
		tl_txn *t;
		size_t before = tl_db_map_size(db);
		int rc = tl_txn_begin(db, &t, err);
		if (rc)
			return rc;
		rc = run_cmds(t, ctx, cmds, n, results, err);
		if (rc) {
			tl_txn_abort(t);
			if (rc == TL_EAGAIN &&
			    !(rc = tl_db_grow_from(db, before, err)))
				continue;
			return rc;
		}
		rc = tl_txn_commit(t, err);
		for (size_t i = 0; rc && results && i < n; i++)
			tl_result_release(&results[i]);
		if (rc == TL_EAGAIN)
			continue; /* grown by tl_txn_commit */
		if (!rc && err) /* no note of a full map that was grown */
			*err = (tl_err){ .index = -1 };
		return rc;
	}
}
