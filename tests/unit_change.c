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
