/*
 * unit_change.c - the typed change of a task event (engine/task.c):
 * tl_change_pack writes the data shape of docs/events.md (checked here
 * against msgpack-c's packer, key by key), tl_change_decode reads it back
 * to the same change, and applying a change directly (what commands do)
 * gives the task that folding the packed event gives (what replays do).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include "internal.h"

#define ID "0190f2a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6"

static msgpack_sbuffer want;
static msgpack_packer pk;

static void want_begin(void)
{
	msgpack_sbuffer_init(&want);
	msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
}

static void key(const char *k)
{
	msgpack_pack_str(&pk, strlen(k));
	msgpack_pack_str_body(&pk, k, strlen(k));
}

static void str(const char *s)
{
	if (!s) {
		msgpack_pack_nil(&pk);
		return;
	}
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

static void ts(int64_t ms)
{
	msgpack_timestamp t = { ms / 1000, (uint32_t)(ms % 1000) * 1000000u };
	msgpack_pack_timestamp(&pk, &t);
}

static tl_event event_of(int kind, const msgpack_sbuffer *data,
			 uint32_t version)
{
	tl_event ev = { 0 };
	ev.seq = 7 + version;
	ev.type = tl_s(tl_change_type(kind));
	ev.stream = tl_s(ID);
	ev.version = version;
	ev.at_ms = 1700000000000 + version * 1000;
	ev.actor_id = tl_s("alice");
	ev.actor_kind = tl_s("user");
	ev.data = (const uint8_t *)data->data;
	ev.data_len = data->size;
	return ev;
}

/* Pack ch, compare with `want`, decode it back, and check that applying
 * ch and folding the packed event give the same task. */
static void check(const tl_change *ch, tl_task *task, uint32_t version)
{
	msgpack_sbuffer got;
	msgpack_zone zone;
	msgpack_sbuffer_init(&got);
	msgpack_zone_init(&zone, 1024);
	cr_assert(tl_change_pack(&got, ch, version > 1 ? task : NULL));
	cr_assert_eq(got.size, want.size, "%s: %zu bytes, want %zu",
		     tl_change_type(ch->kind), got.size, want.size);
	cr_assert_eq(memcmp(got.data, want.data, got.size), 0, "%s: bytes",
		     tl_change_type(ch->kind));

	tl_event ev = event_of(ch->kind, &got, version);
	tl_change back;
	cr_assert_eq(tl_change_decode(&ev, &back, &zone), 0);
	cr_assert_eq(back.kind, ch->kind);
	cr_assert_eq(back.set, ch->set, "%s: set %x, want %x",
		     tl_change_type(ch->kind), back.set, ch->set);
	cr_assert_eq(back.tags_len, ch->tags_len);

	tl_task folded, applied;
	cr_assert_eq(tl_task_copy(&folded, task), 0);
	cr_assert_eq(tl_task_copy(&applied, task), 0);
	cr_assert_eq(tl_task_fold(&folded, &ev, &zone), 0);
	cr_assert_eq(tl_task_apply(&applied, &ev, ch), 0);
	msgpack_sbuffer a, b;
	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	cr_assert(tl_task_pack(&a, &folded) && tl_task_pack(&b, &applied));
	cr_assert(a.size == b.size && !memcmp(a.data, b.data, a.size),
		  "%s: applied and folded tasks differ",
		  tl_change_type(ch->kind));
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
	tl_task_release(task);
	*task = applied;
	tl_task_release(&folded);
	msgpack_sbuffer_destroy(&got);
	msgpack_sbuffer_destroy(&want);
	msgpack_zone_destroy(&zone);
}

Test(change, every_kind_packs_decodes_and_folds_alike)
{
	tl_task task;
	memset(&task, 0, sizeof task);
	static const tl_slice tags[] = { { "vip", 3 }, { "q4", 2 } };

	/* task.created, with every nullable field set and unset */
	tl_change c = {
		.kind = TL_EV_CREATED,
		.set = TL_CH_TITLE | TL_CH_TYPE | TL_CH_STATUS | TL_CH_DUE |
		       TL_CH_ASSIGNEE | TL_CH_NOTES | TL_CH_LINK_TYPE |
		       TL_CH_LINK_ID | TL_CH_PIPELINE | TL_CH_STAGE,
		.title = tl_s("Call Dana about the renewal"),
		.assignee = tl_s("alice"),
		.notes = { NULL, 0 },
		.link_id = tl_s("42"),
		.type = 0, .status = 1, .link_type = 1,
		.has_due = true, .due = 1700003600123,
		.tags = tags, .tags_len = 2,
	};
	cr_assert_eq(tl_uuid_parse(tl_s(ID), c.id), true);
	want_begin();
	msgpack_pack_map(&pk, 10);
	key("title"); str("Call Dana about the renewal");
	key("type"); str(tl_type_tokens[0]);
	key("status"); str(tl_status_tokens[1]);
	key("due_at"); ts(1700003600123);
	key("assignee"); str("alice");
	key("notes"); str(NULL);
	key("link");
	msgpack_pack_map(&pk, 2);
	key("type"); str(tl_entity_tokens[1]);
	key("id"); str("42");
	key("pipeline"); str(NULL);
	key("stage"); str(NULL);
	key("tags");
	msgpack_pack_array(&pk, 2);
	str("vip"); str("q4");
	check(&c, &task, 1);
	cr_assert_str_eq(task.title, "Call Dana about the renewal");
	cr_assert_eq(task.tags_len, 2);

	/* task.updated: two of four fields, previous values from the task */
	tl_change u = { .kind = TL_EV_UPDATED, .set = TL_CH_TITLE | TL_CH_DUE,
			.title = tl_s("Call Dana"), .has_due = false };
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("changes");
	msgpack_pack_map(&pk, 2);
	key("title"); str("Call Dana");
	key("due_at"); msgpack_pack_nil(&pk);
	key("previous");
	msgpack_pack_map(&pk, 2);
	key("title"); str("Call Dana about the renewal");
	key("due_at"); ts(1700003600123);
	check(&u, &task, 2);
	cr_assert_eq(task.has_due, false);

	tl_change n = { .kind = TL_EV_UPDATED, .set = TL_CH_TYPE | TL_CH_NOTES,
			.type = 3, .notes = tl_s("bring the contract") };
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("changes");
	msgpack_pack_map(&pk, 2);
	key("type"); str(tl_type_tokens[3]);
	key("notes"); str("bring the contract");
	key("previous");
	msgpack_pack_map(&pk, 2);
	key("type"); str(tl_type_tokens[0]);
	key("notes"); str(NULL);
	check(&n, &task, 3);

	/* task.assigned: unassign */
	tl_change a = { .kind = TL_EV_ASSIGNED, .set = TL_CH_ASSIGNEE };
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("assignee"); str(NULL);
	key("previous"); str("alice");
	check(&a, &task, 4);
	cr_assert_null(task.assignee);

	tl_change s = { .kind = TL_EV_STATUS_CHANGED, .set = TL_CH_STATUS,
			.status = 2 };
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("status"); str(tl_status_tokens[2]);
	key("previous"); str(tl_status_tokens[1]);
	check(&s, &task, 5);

	tl_change k = { .kind = TL_EV_COMPLETED, .set = TL_CH_STATUS,
			.status = TL_ST_COMPLETED };
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("status"); str(tl_status_tokens[TL_ST_COMPLETED]);
	key("previous"); str(tl_status_tokens[2]);
	check(&k, &task, 6);
	cr_assert(task.has_completed);

	tl_change t = { .kind = TL_EV_UNTAGGED, .tag = tl_s("vip") };
	want_begin();
	msgpack_pack_map(&pk, 1);
	key("tag"); str("vip");
	check(&t, &task, 7);
	cr_assert_eq(task.tags_len, 1);

	t.kind = TL_EV_TAGGED;
	t.tag = tl_s("hot");
	want_begin();
	msgpack_pack_map(&pk, 1);
	key("tag"); str("hot");
	check(&t, &task, 8);
	cr_assert_eq(task.tags_len, 2);

	tl_change d = { .kind = TL_EV_DELETED };
	want_begin();
	msgpack_pack_map(&pk, 0);
	check(&d, &task, 9);
	cr_assert(task.deleted);
	cr_assert_eq(task.version, 9);
	tl_task_release(&task);
}

Test(change, decode_rejects_wrong_shapes)
{
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	/* status_changed without a status, with an unknown one; tagged
	 * without a tag; created with a non-string title; an unknown type */
	static const struct { const char *type, *key, *val; } bad[] = {
		{ "task.status_changed", "previous", "todo" },
		{ "task.status_changed", "status", "paused" },
		{ "task.tagged", "previous", "x" },
		{ "task.updated", "previous", "x" },
		{ "task.assigned", "previous", "alice" },
		{ "task.renamed", "title", "x" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		want_begin();
		msgpack_pack_map(&pk, 1);
		key(bad[i].key);
		str(bad[i].val);
		tl_event ev = event_of(TL_EV_CREATED, &want, 2);
		ev.type = tl_s(bad[i].type);
		tl_change ch;
		cr_assert_neq(tl_change_decode(&ev, &ch, &zone), 0,
			      "%s with %s accepted", bad[i].type, bad[i].key);
		msgpack_sbuffer_destroy(&want);
	}
	want_begin();
	msgpack_pack_map(&pk, 2);
	key("title");
	msgpack_pack_int(&pk, 5);
	key("link");
	msgpack_pack_map(&pk, 0);
	tl_event ev = event_of(TL_EV_CREATED, &want, 1);
	tl_change ch;
	cr_assert_neq(tl_change_decode(&ev, &ch, &zone), 0);
	msgpack_sbuffer_destroy(&want);
	msgpack_zone_destroy(&zone);
}

/* fuzz_import and fuzz_decode (a helper's campaign): a task.created with
 * the tags "a\0b" and "a\0c" folded into two tags "a" (the task keeps C
 * strings), and a later untag of "a" left the stored task unlike its
 * events.  A string with a NUL is no event's: the decoder refuses it in
 * every string it reads (tags, a tag, a title, an assignee, notes). */
Test(change, decode_refuses_a_string_with_a_nul)
{
	msgpack_zone zone;
	msgpack_zone_init(&zone, 1024);
	static const struct { const char *type, *key; } cases[] = {
		{ "task.tagged", "tag" },       { "task.untagged", "tag" },
		{ "task.assigned", "assignee" }, { "task.created", "title" },
		{ "task.created", "tags" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		for (int nul = 0; nul < 2; nul++) {
			const char *v = nul ? "a\0b" : "a-b";
			want_begin();
			bool created = !strcmp(cases[i].type, "task.created");
			msgpack_pack_map(&pk, created ? 2 : 1);
			if (created) {
				key("link");
				msgpack_pack_map(&pk, 2);
				key("type");
				str("lead");
				key("id");
				str("1");
			}
			key(cases[i].key);
			if (!strcmp(cases[i].key, "tags"))
				msgpack_pack_array(&pk, 1);
			msgpack_pack_str(&pk, 3);
			msgpack_pack_str_body(&pk, v, 3);
			tl_event ev = event_of(TL_EV_CREATED, &want, 1);
			ev.type = tl_s(cases[i].type);
			tl_change ch;
			int rc = tl_change_decode(&ev, &ch, &zone);
			if (nul)
				cr_assert_neq(rc, 0, "%s %s with a NUL taken",
					      cases[i].type, cases[i].key);
			else if (!created || strcmp(cases[i].key, "title"))
				cr_assert_eq(rc, 0, "%s %s", cases[i].type,
					     cases[i].key);
			msgpack_sbuffer_destroy(&want);
		}
	}
	msgpack_zone_destroy(&zone);
}

/* A task's strings live in one block that is compacted when full: many
 * changes keep every field right and the block bounded, and a copy is
 * equal and independent. */
Test(change, string_block_survives_many_changes)
{
	tl_task task;
	memset(&task, 0, sizeof task);
	static const tl_slice tags[] = { { "a", 1 } };
	tl_change c = {
		.kind = TL_EV_CREATED,
		.set = TL_CH_TITLE | TL_CH_LINK_ID | TL_CH_ASSIGNEE |
		       TL_CH_NOTES,
		.title = tl_s("first"), .link_id = tl_s("42"),
		.assignee = tl_s("alice"), .notes = tl_s("n"),
		.tags = tags, .tags_len = 1,
	};
	tl_event ev = { .seq = 1, .version = 1, .at_ms = 1000,
			.actor_id = tl_s("bob"), .actor_kind = tl_s("user") };
	cr_assert_eq(tl_task_apply(&task, &ev, &c), 0);
	char title[300], tag[16];
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)snprintf(title, sizeof title, "%0*d",
					    1 + (i * 37) % 250, i);
		tl_change u = { .kind = TL_EV_UPDATED, .set = TL_CH_TITLE,
				.title = { title, n } };
		if (i % 3 == 0) {
			u.set |= TL_CH_NOTES;
			u.notes = i % 2 ? tl_s("some notes") : (tl_slice){ 0 };
		}
		ev.version = (uint32_t)i + 2;
		cr_assert_eq(tl_task_apply(&task, &ev, &u), 0);
		snprintf(tag, sizeof tag, "t%d", i % 50);
		tl_change g = { .kind = i % 4 ? TL_EV_TAGGED : TL_EV_UNTAGGED,
				.tag = tl_s(tag) };
		cr_assert_eq(tl_task_apply(&task, &ev, &g), 0);
		cr_assert_str_eq(task.title, title);
		cr_assert_str_eq(task.link_id, "42");
		cr_assert_str_eq(task.assignee, "alice");
		cr_assert_str_eq(task.created_by, "bob");
		if (i % 3 == 0 && i % 2 == 0)
			cr_assert_null(task.notes);
		cr_assert(tl_task_has_tag(&task, tl_s(tag)) == (i % 4 != 0));
		/* live strings stay under 4 KiB here: the block stays small */
		cr_assert_lt(task.mem_cap_, 16384, "block of %zu bytes",
			     task.mem_cap_);
	}
	tl_task copy;
	cr_assert_eq(tl_task_copy(&copy, &task), 0);
	/* The copy's block is full to the byte: changing it moves its
	 * strings, never the original's. */
	for (int i = 0; i < 3; i++) {
		tl_task other;
		cr_assert_eq(tl_task_copy(&other, &task), 0);
		ev.version = 9000 + (uint32_t)i;
		tl_change u = { .kind = TL_EV_UPDATED, .set = TL_CH_TITLE,
				.title = tl_s("changed in the copy") };
		tl_change g = { .kind = TL_EV_TAGGED, .tag = tl_s("fresh") };
		cr_assert_eq(tl_task_apply(&other, &ev, &u), 0);
		cr_assert_eq(tl_task_apply(&other, &ev, &g), 0);
		cr_assert_str_eq(other.title, "changed in the copy");
		cr_assert_str_eq(other.assignee, "alice");
		cr_assert(tl_task_has_tag(&other, tl_s("fresh")));
		cr_assert_str_eq(task.title, title);
		cr_assert(!tl_task_has_tag(&task, tl_s("fresh")));
		tl_task_release(&other);
	}
	msgpack_sbuffer a, b;
	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	cr_assert(tl_task_pack(&a, &task));
	tl_task_release(&task); /* the copy owns its own strings */
	cr_assert(tl_task_pack(&b, &copy));
	cr_assert(a.size == b.size && !memcmp(a.data, b.data, a.size));
	tl_task_release(&copy);
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
}

/* ---- the reference: the msgpack_unpack decoder tl_change_decode replaced */

/* A string field: present strings are kept, nil only when nullable. */
/* A string of an event (since 0.3.17 none with a NUL: no command wrote
 * one, and the task's C strings would cut it). */
static tl_slice ref_text(const msgpack_object *o)
{
	tl_slice s = tl_obj_slice(o);
	if (s.p && s.len && memchr(s.p, 0, s.len))
		s.p = NULL;
	return s;
}

static int ref_ch_str(const msgpack_object *o, bool nullable, unsigned bit,
		  unsigned *set, tl_slice *out)
{
	if (!o)
		return 0;
	*set |= bit;
	if (o->type == MSGPACK_OBJECT_NIL && nullable) {
		*out = (tl_slice){ NULL, 0 };
		return 0;
	}
	*out = ref_text(o);
	return out->p ? 0 : TL_ESTORAGE;
}

static int ref_ch_enum(const msgpack_object *o, const char *const *table, int n,
		   unsigned bit, unsigned *set, int *out)
{
	if (!o)
		return 0;
	if ((*out = tl_token_find(table, n, tl_obj_slice(o))) < 0)
		return TL_ESTORAGE;
	*set |= bit;
	return 0;
}

static int ref_ch_due(const msgpack_object *o, tl_change *ch)
{
	if (!o)
		return 0;
	ch->set |= TL_CH_DUE;
	ch->has_due = o->type != MSGPACK_OBJECT_NIL;
	ch->due = 0;
	return !ch->has_due || tl_obj_time(o, &ch->due) ? 0 : TL_ESTORAGE;
}

static int ref_decode_created(const tl_event *ev, const msgpack_object *d,
			  tl_change *ch, msgpack_zone *zone)
{
	static const char *const keys[] = {
		"title", "type", "status", "due_at", "assignee", "notes",
		"link", "pipeline", "stage", "tags"
	};
	static const char *const link_keys[] = { "type", "id" };
	const msgpack_object *f[10], *l[2];
	unsigned *s = &ch->set;
	int rc;
	tl_map_pick(d, keys, 10, f);
	tl_map_pick(f[6], link_keys, 2, l);
	if (!tl_uuid_parse(ev->stream, ch->id) || !f[6])
		return TL_ESTORAGE;
	if ((rc = ref_ch_str(f[0], false, TL_CH_TITLE, s, &ch->title)) ||
	    (rc = ref_ch_enum(f[1], tl_type_tokens, TL_TYPE_COUNT, TL_CH_TYPE, s,
			  &ch->type)) ||
	    (rc = ref_ch_enum(f[2], tl_status_tokens, TL_STATUS_COUNT,
			  TL_CH_STATUS, s, &ch->status)) ||
	    (rc = ref_ch_due(f[3], ch)) ||
	    (rc = ref_ch_str(f[4], true, TL_CH_ASSIGNEE, s, &ch->assignee)) ||
	    (rc = ref_ch_str(f[5], true, TL_CH_NOTES, s, &ch->notes)) ||
	    (rc = ref_ch_enum(l[0], tl_entity_tokens, TL_ENTITY_COUNT,
			  TL_CH_LINK_TYPE, s, &ch->link_type)) ||
	    (rc = ref_ch_str(l[1], false, TL_CH_LINK_ID, s, &ch->link_id)) ||
	    (rc = ref_ch_str(f[7], true, TL_CH_PIPELINE, s, &ch->pipeline)) ||
	    (rc = ref_ch_str(f[8], true, TL_CH_STAGE, s, &ch->stage)))
		return rc;
	const msgpack_object *tags = f[9];
	if (tags && tags->type == MSGPACK_OBJECT_ARRAY &&
	    tags->via.array.size) {
		tl_slice *v = msgpack_zone_malloc(zone, tags->via.array.size *
							      sizeof *v);
		if (!v)
			return TL_ESTORAGE;
		for (uint32_t i = 0; i < tags->via.array.size; i++)
			if (!(v[i] = ref_text(&tags->via.array.ptr[i])).p)
				return TL_ESTORAGE;
		ch->tags = v;
		ch->tags_len = tags->via.array.size;
	}
	return 0;
}

static int ref_change_decode(const tl_event *ev, tl_change *ch, msgpack_zone *zone)
{
	msgpack_object d;
	size_t off = 0;
	unsigned *s = &ch->set;
	memset(ch, 0, sizeof *ch);
	ch->kind = -1;
	for (int k = 0; k < TL_EV_COUNT; k++)
		if (tl_slice_eq(ev->type, tl_change_type(k)))
			ch->kind = k;
	if (ch->kind < 0 ||
	    msgpack_unpack((const char *)ev->data, ev->data_len, &off, zone,
			   &d) != MSGPACK_UNPACK_SUCCESS ||
	    d.type != MSGPACK_OBJECT_MAP)
		return TL_ESTORAGE;

	switch (ch->kind) {
	case TL_EV_CREATED:
		return ref_decode_created(ev, &d, ch, zone);
	case TL_EV_UPDATED: {
		static const char *const keys[] = { "title", "type", "due_at",
						    "notes" };
		const msgpack_object *f[4], *c = tl_map_get(&d, "changes");
		int rc;
		if (!c)
			return TL_ESTORAGE;
		tl_map_pick(c, keys, 4, f);
		if ((rc = ref_ch_str(f[0], false, TL_CH_TITLE, s, &ch->title)) ||
		    (rc = ref_ch_enum(f[1], tl_type_tokens, TL_TYPE_COUNT,
				  TL_CH_TYPE, s, &ch->type)) ||
		    (rc = ref_ch_due(f[2], ch)))
			return rc;
		return ref_ch_str(f[3], true, TL_CH_NOTES, s, &ch->notes);
	}
	case TL_EV_ASSIGNED: {
		const msgpack_object *a = tl_map_get(&d, "assignee");
		return a ? ref_ch_str(a, true, TL_CH_ASSIGNEE, s, &ch->assignee)
			 : TL_ESTORAGE;
	}
	case TL_EV_STATUS_CHANGED:
		if (ref_ch_enum(tl_map_get(&d, "status"), tl_status_tokens,
			    TL_STATUS_COUNT, TL_CH_STATUS, s, &ch->status) ||
		    !(ch->set & TL_CH_STATUS))
			return TL_ESTORAGE;
		return 0;
	case TL_EV_TAGGED:
	case TL_EV_UNTAGGED:
		ch->tag = ref_text(tl_map_get(&d, "tag"));
		return ch->tag.p ? 0 : TL_ESTORAGE;
	case TL_EV_COMPLETED: /* its data repeats the status */
		ch->set = TL_CH_STATUS;
		ch->status = TL_ST_COMPLETED;
		return 0;
	default: /* deleted: no data */
		return 0;
	}
}


/* Both decoders judge a data map alike and read the same change. */
static void same_change(const char *type, const uint8_t *in, size_t len,
			const char *what)
{
	uint8_t *data = malloc(len ? len : 1);
	cr_assert_not_null(data);
	memcpy(data, in, len);
	tl_event ev = { .type = tl_s(type), .stream = tl_s(ID),
			.data = data, .data_len = len };
	msgpack_zone za, zb;
	msgpack_zone_init(&za, 1024);
	msgpack_zone_init(&zb, 1024);
	tl_change a, b;
	int ra = tl_change_decode(&ev, &a, &za);
	/* msgpack_unpack trusts container counts (the envelope's check ran
	 * before it in the engine): only well-formed data goes to it; the
	 * reader must reject the rest on its own. */
	int rb = tl_mp_fits(data, len) ? ref_change_decode(&ev, &b, &zb)
				       : TL_ESTORAGE;
	cr_assert_eq(ra == 0, rb == 0, "%s %s: decoder %d, reference %d",
		     type, what, ra, rb);
	if (ra == 0) {
		cr_assert(a.kind == b.kind && a.set == b.set, "%s %s: set %x/%x",
			  type, what, a.set, b.set);
		const tl_slice *sa[] = { &a.title, &a.assignee, &a.notes,
					 &a.link_id, &a.pipeline, &a.stage,
					 &a.tag };
		const tl_slice *sb2[] = { &b.title, &b.assignee, &b.notes,
					  &b.link_id, &b.pipeline, &b.stage,
					  &b.tag };
		for (int i = 0; i < 7; i++)
			cr_assert((!sa[i]->p) == (!sb2[i]->p) &&
				  tl_slices_eq(*sa[i], *sb2[i]),
				  "%s %s: string %d", type, what, i);
		if (a.set & TL_CH_TYPE)
			cr_assert_eq(a.type, b.type);
		if (a.set & TL_CH_STATUS)
			cr_assert_eq(a.status, b.status);
		if (a.set & TL_CH_LINK_TYPE)
			cr_assert_eq(a.link_type, b.link_type);
		if (a.set & TL_CH_DUE)
			cr_assert(a.has_due == b.has_due && a.due == b.due);
		cr_assert(!memcmp(a.id, b.id, 16));
		cr_assert_eq(a.tags_len, b.tags_len);
		for (size_t i = 0; i < a.tags_len; i++)
			cr_assert(tl_slices_eq(a.tags[i], b.tags[i]));
	}
	msgpack_zone_destroy(&za);
	msgpack_zone_destroy(&zb);
	free(data);
}

/* Data maps of every event type, in the shapes commands pack and in odd
 * ones (other key orders, repeated keys, non-string keys, nil where a
 * string belongs, other types), then random mutations of each. */
Test(change, decoder_reads_as_the_msgpack_unpack_reader_did)
{
	static const char *const types[] = {
		"task.created", "task.updated", "task.assigned",
		"task.status_changed", "task.completed", "task.tagged",
		"task.untagged", "task.deleted", "task.renamed"
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[2048];
	for (int v = 0; v < 64; v++) {
		for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
			want_begin();
			const char *t = types[ti];
			if (ti == 0) {
				msgpack_pack_map(&pk, v % 7 == 3 ? 12 : 10);
				if (v % 7 == 3) {
					msgpack_pack_int(&pk, 9);
					msgpack_pack_nil(&pk);
					key("title"); str("first wins");
				}
				key("title"); v % 11 == 5 ? msgpack_pack_nil(&pk)
						       : str("Call Dana");
				key("type"); str(v % 13 == 7 ? "nope"
							    : tl_type_tokens[v % 10]);
				key("status"); str(tl_status_tokens[v % 5]);
				key("due_at");
				if (v % 3 == 0)
					msgpack_pack_nil(&pk);
				else if (v % 17 == 1)
					msgpack_pack_int(&pk, 5);
				else
					ts(1700000000000 + v * 1000);
				key("assignee"); v % 2 ? str("alice") : str(NULL);
				key("notes"); v % 5 ? str(NULL) : str("");
				key("link");
				if (v % 19 == 4) {
					str("lead:1");
				} else {
					msgpack_pack_map(&pk, 2);
					key("id"); str("42");
					key("type"); str(tl_entity_tokens[v % 4]);
				}
				key("pipeline"); str(NULL);
				key("stage"); v % 23 == 2 ? msgpack_pack_int(&pk, 1)
						       : str(NULL);
				key("tags");
				if (v % 29 == 6) {
					str("vip");
				} else {
					msgpack_pack_array(&pk, (size_t)v % 3);
					for (int i = 0; i < v % 3; i++)
						str(i ? "b" : "a");
				}
				if (v % 7 == 3) {
					key("extra"); msgpack_pack_array(&pk, 0);
				}
			} else if (ti == 1) {
				msgpack_pack_map(&pk, 2);
				key("changes");
				if (v % 9 == 8) {
					str("x");
				} else {
					msgpack_pack_map(&pk, 4);
					key("notes"); v % 2 ? str(NULL) : str("n");
					key("due_at");
					v % 3 ? ts(1700000000000) : msgpack_pack_nil(&pk);
					key("type"); str(tl_type_tokens[v % 10]);
					key("title"); str("t");
				}
				key("previous"); msgpack_pack_map(&pk, 0);
			} else if (ti == 2) {
				msgpack_pack_map(&pk, 2);
				key("previous"); str("bob");
				key(v % 4 ? "assignee" : "assigned");
				v % 3 ? str("alice") : str(NULL);
			} else {
				msgpack_pack_map(&pk, 2);
				key(ti == 3 || ti == 4 ? "status" : "tag");
				str(ti == 3 && v % 5 == 0 ? "paused"
							  : tl_status_tokens[v % 5]);
				key("previous"); str("todo");
			}
			same_change(t, (const uint8_t *)want.data, want.size,
				    "shape");
			for (int m = 0; m < 300; m++) {
				size_t len = want.size;
				memcpy(buf, want.data, len);
				for (int e = 0; e < 1 + m % 3; e++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					size_t at = (size_t)(x >> 8) % len;
					switch (x % 4) {
					case 0: buf[at] ^= (uint8_t)(1u << (x >> 40) % 8); break;
					case 1: buf[at] = (uint8_t)(x >> 48); break;
					case 2: len = at + 1; break;
					default:
						if (len < sizeof buf) {
							memmove(buf + at + 1, buf + at, len - at);
							buf[at] = (uint8_t)(x >> 32);
							len++;
						}
					}
				}
				same_change(t, buf, len, "mutation");
			}
			msgpack_sbuffer_destroy(&want);
		}
	}
}

/* Nesting at and past msgpack_unpack's limit: in the data map itself and
 * inside task.created's link map. */
Test(change, nesting_limits_are_judged_alike)
{
	for (int where = 0; where < 2; where++)
		for (int depth = 28; depth <= 34; depth++) {
			want_begin();
			if (where == 0) {
				msgpack_pack_map(&pk, 2);
				key("tag"); str("vip");
				key("deep");
			} else {
				msgpack_pack_map(&pk, 2);
				key("title"); str("t");
				key("link");
				msgpack_pack_map(&pk, 3);
				key("type"); str("lead");
				key("id"); str("1");
				key("deep");
			}
			for (int i = 0; i < depth; i++)
				msgpack_pack_array(&pk, 1);
			msgpack_pack_nil(&pk);
			same_change(where ? "task.created" : "task.tagged",
				    (const uint8_t *)want.data, want.size,
				    "nesting");
			msgpack_sbuffer_destroy(&want);
		}
}
