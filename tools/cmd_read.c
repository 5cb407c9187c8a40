/*
 * cmd_read.c - the commands that read: log, member list, task show, task
 * list, upcoming, timeline and notifications (and notifications read).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "membuf.h"
#include "progress.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* ---- reads ------------------------------------------------------------- */

/* Gathers documents handed to a callback into a JSON array. */
struct collect {
	json_t *items;
	size_t keep;       /* keep only the first keep events (0: all) */
	uint64_t last_seq; /* of the last event seen */
	size_t seen;       /* events seen, kept or not */
	bool failed;       /* a document did not decode */
	bool nomem;        /* writing the text failed: out of memory */
	FILE *text;        /* non-NULL: events written here as JSON text
			      (task show --history --json: a tenth of the
			      memory of their JSON values) */
};

static int collect_doc(void *arg, const uint8_t *doc, size_t len)
{
	struct collect *k = arg;
	json_t *v = doc_json(doc, len);

	if (!v) {
		k->failed = true;
		return 1;
	}
	json_array_append_new(k->items, v);
	return 0;
}

static int collect_event(void *arg, const tl_event *ev)
{
	struct collect *k = arg;

	k->last_seq = ev->seq;
	if (k->keep && k->seen >= k->keep)
		return 0; /* the versions after the state shown */
	k->seen++;
	if (k->text) { /* as JSON text, comma-separated */
		json_t *v = doc_json(ev->raw, ev->raw_len);
		if (!v) {
			k->failed = true;
			return 1;
		}
		if ((k->seen > 1 && fputc(',', k->text) == EOF) ||
		    json_dumpf(v, k->text, JSON_COMPACT | JSON_ENCODE_ANY))
			k->failed = k->nomem = true; /* the membuf's, or
							jansson's own */
		json_decref(v);
		return k->failed;
	}
	return collect_doc(arg, ev->raw, ev->raw_len);
}

static void print_list(struct cli *c, json_t *items, json_t *cursor,
		       void (*human)(const json_t *))
{
	size_t i;
	json_t *v;

	if (c->json) {
		json_t *o = json_object();
		json_object_set(o, "items", items);
		json_object_set_new(o, "next_cursor", cursor);
		mpjson_print(stdout, o);
		json_decref(o);
		return;
	}
	json_decref(cursor);
	json_array_foreach(items, i, v)
		human(v);
}

int run_log(struct cli *c)
{
	struct collect k = { .items = json_array() };
	json_t *cursor = json_null();
	int rc;

	rc = tl_log_read(c->db, &c->ctx, c->from, c->limit,
			 opt_slice(c, O_STREAM), collect_event, &k, &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc) {
		json_decref(k.items);
		return rc;
	}
	/* A full page may have a next one; the reader of an empty next page
	 * learns that the log ended there. */
	char buf[24] = "";
	if (k.seen == c->limit) {
		snprintf(buf, sizeof buf, "%" PRIu64, k.last_seq + 1);
		cursor = json_string(buf);
	}
	if (c->json)
		print_list(c, k.items, cursor, NULL);
	else {
		json_decref(cursor);
		human_events(k.items);
	}
	if (!c->json && buf[0]) /* as the other lists say it */
		printf("next page: --from %s\n", buf);
	json_decref(k.items);
	return 0;
}

int run_member_list(struct cli *c)
{
	struct collect k = { .items = json_array() };
	char next[TL_MEMBER_CURSOR_MAX];
	int rc;

	rc = tl_member_page(c->db, &c->ctx, (size_t)c->limit,
			    opt_slice(c, O_CURSOR), collect_doc, &k, next,
			    &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc) {
		json_decref(k.items);
		return rc;
	}
	if (!c->json) {
		human_member_table(k.items);
		if (next[0])
			printf("next page: --cursor %s\n", next);
	} else {
		print_list(c, k.items, next[0] ? json_string(next) : json_null(),
			   human_member);
	}
	json_decref(k.items);
	return 0;
}

int run_task_show(struct cli *c)
{
	tl_slice id = tl_s(c->words[0]);
	uint8_t *doc = NULL;
	size_t len = 0;
	int64_t as_of = 0;
	json_t *task;
	int rc;

	if (has(c, O_AS_OF)) {
		rc = tl_time_parse(opt_slice(c, O_AS_OF), cli_now(c),
				   cli_zone(c), "as_of", &as_of, &c->err);
		if (rc)
			return rc;
		rc = tl_task_as_of(c->db, &c->ctx, id, as_of, &doc, &len,
				   &c->err);
	} else {
		rc = tl_task_get(c->db, &c->ctx, id, &doc, &len, &c->err);
	}
	if (rc)
		return rc;
	task = doc_json(doc, len);
	free(doc);
	if (!task)
		return collect_failed(c);

	if (!has(c, O_HISTORY)) {
		if (c->json)
			mpjson_print(stdout, task);
		else
			human_task(task);
		json_decref(task);
		return 0;
	}

	/* The task's stream is its canonical id, whatever case was typed. */
	const char *sid = json_string_value(json_object_get(task, "id"));
	/* The events of the versions folded into the task shown: the
	 * first `version` of its stream (with --as-of a prefix, see
	 * tl_task_as_of; without, events a writer appended between the two
	 * reads would be newer than the task shown). */
	struct collect k = { .items = json_array() };
	json_int_t v = json_integer_value(json_object_get(task, "version"));
	k.keep = v > 0 ? (size_t)v : 1;
	/* With --json the events are kept as the text printed (a task of
	 * 150,000 events took 556 MB for 54 MB of JSON as values), in a
	 * buffer of their own: stdout gets nothing on an error. */
	membuf events = { 0 };
	if (c->json && !(k.text = membuf_open(&events))) {
		json_decref(k.items);
		json_decref(task);
		return cli_oom(c);
	}
	rc = tl_log_read(c->db, &c->ctx, 1, 0, tl_s(sid ? sid : c->words[0]),
			 collect_event, &k, &c->err);
	bool text_whole = !k.text || membuf_close(k.text, &events);
	if (k.failed || !text_whole) /* the callback stopped the read */
		rc = text_whole && !k.nomem ? collect_failed(c) : cli_oom(c);
	if (rc == 0) {
		if (c->json) {
			/* {"task": ..., "events": [...]} as one document */
			fputs("{\"task\":", stdout);
			json_dumpf(task, stdout,
				   JSON_COMPACT | JSON_ENCODE_ANY);
			fputs(",\"events\":[", stdout);
			if (events.len)
				fwrite(events.p, 1, events.len, stdout);
			fputs("]}\n", stdout);
		} else {
			human_task(task);
			printf("\nHistory\n");
			human_history(k.items);
		}
	}
	free(events.p);
	json_decref(k.items);
	json_decref(task);
	return rc;
}

/* A page of tasks: {"items": [...], "next_cursor": ...} or the table. */
static void print_task_page(struct cli *c, json_t *items, const char *next)
{
	if (c->json)
		print_list(c, items, next[0] ? json_string(next) : json_null(),
			   human_task);
	else
		human_task_table(items, next);
}

/* The values of repeat options, in one array: *out[k] gets the slices of
 * opts[k] and *lens[k] their number.  Returns the array (free it). */
static tl_slice *many_slices(struct cli *c, const enum opt *opts, size_t n,
			     const tl_slice **out, size_t *lens)
{
	size_t total = 1, at = 0;
	tl_slice *all;

	for (size_t k = 0; k < n; k++)
		total += c->many_len[opts[k]];
	if (!(all = calloc(total, sizeof *all)))
		return NULL;
	for (size_t k = 0; k < n; k++) {
		out[k] = all + at;
		lens[k] = c->many_len[opts[k]];
		for (size_t i = 0; i < lens[k]; i++)
			all[at++] = tl_s(c->many[opts[k]][i]);
	}
	return all;
}

int run_task_list(struct cli *c)
{
	static const enum opt rep[] = { O_ASSIGNEE, O_STATUS, O_ENTITY_TYPE,
					O_TYPE, O_DUE, O_SEARCH };
	const tl_slice *v[6];
	size_t lens[6];
	struct collect k = { .items = json_array() };
	char next[TL_CURSOR_MAX] = "";
	tl_slice *all = many_slices(c, rep, 6, v, lens);
	tl_slice *tags = tag_slices(c);
	int rc;

	if (!all || !tags) {
		json_decref(k.items);
		free(all);
		free(tags);
		return cli_oom(c);
	}
	tl_list_query q = {
		.assignees = v[0], .assignees_len = lens[0],
		.statuses = v[1], .statuses_len = lens[1],
		.entity_types = v[2], .entity_types_len = lens[2],
		.types = v[3], .types_len = lens[3],
		.record = opt_slice(c, O_RECORD),
		.dues = v[4], .dues_len = lens[4],
		.automation = opt_slice(c, O_AUTOMATION),
		.sort = opt_slice(c, O_SORT),
		.limit = (size_t)c->limit,
		.cursor = opt_slice(c, O_CURSOR),
		.tags = tags,
		.tags_len = c->tags_len,
		.searches = v[5],
		.searches_len = lens[5],
	};
	rc = tl_task_list(c->db, &c->ctx, &q, collect_doc, &k, next, &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc == 0)
		print_task_page(c, k.items, next);
	json_decref(k.items);
	free(all);
	free(tags);
	return rc;
}

int run_upcoming(struct cli *c)
{
	struct collect k = { .items = json_array() };
	char next[TL_CURSOR_MAX] = "";
	uint64_t days = 0; /* the engine's default, 7 */
	int rc;

	if (has(c, O_DAYS)) {
		if (parse_number(c, O_DAYS, &days)) {
			json_decref(k.items);
			return TL_EINVALID;
		}
		if (days == 0) {
			json_decref(k.items);
			return usage_error(c, "days", "must be at least 1");
		}
	}
	rc = tl_upcoming(c->db, &c->ctx, opt_slice(c, O_MEMBER),
			 days > INT_MAX ? INT_MAX : (int)days, (size_t)c->limit,
			 opt_slice(c, O_CURSOR), collect_doc, &k, next,
			 &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc == 0)
		print_task_page(c, k.items, next);
	json_decref(k.items);
	return rc;
}

/* ---- timeline ------------------------------------------------------------ */

/* The two lists of a timeline, filled by its two callbacks. */
struct timeline_out {
	struct collect up, items;
};

static int collect_upcoming(void *arg, const uint8_t *doc, size_t len)
{
	return collect_doc(&((struct timeline_out *)arg)->up, doc, len);
}

static int collect_item(void *arg, const uint8_t *doc, size_t len)
{
	return collect_doc(&((struct timeline_out *)arg)->items, doc, len);
}

int run_timeline(struct cli *c)
{
	struct timeline_out t = { .up = { .items = json_array() },
				  .items = { .items = json_array() } };
	char next[TL_CURSOR_MAX] = "", up_next[TL_CURSOR_MAX] = "";
	tl_timeline_query q = {
		.record = tl_s(c->words[0]),
		.limit = (size_t)c->limit,
		.cursor = opt_slice(c, O_CURSOR),
		.upcoming_cursor = opt_slice(c, O_UPCOMING_CURSOR),
	};
	int rc;

	rc = tl_timeline_page(c->db, &c->ctx, &q, collect_upcoming,
			      collect_item, &t, next, up_next, &c->err);
	if (t.up.failed || t.items.failed)
		rc = collect_failed(c);
	if (rc == 0 && c->json) {
		json_t *o = json_object();
		json_object_set(o, "upcoming", t.up.items);
		json_object_set_new(o, "upcoming_next_cursor",
				    up_next[0] ? json_string(up_next)
					       : json_null());
		json_object_set(o, "items", t.items.items);
		json_object_set_new(o, "next_cursor",
				    next[0] ? json_string(next) : json_null());
		mpjson_print(stdout, o);
		json_decref(o);
	} else if (rc == 0) {
		/* The history when it was read: on the first page, or asked
		 * for by its cursor. */
		bool history = !q.upcoming_cursor.len || q.cursor.len;
		human_timeline(t.up.items, up_next,
			       history ? t.items.items : NULL, next);
	}
	json_decref(t.up.items);
	json_decref(t.items.items);
	return rc;
}

/* ---- notifications --------------------------------------------------------- */

/* `notifications read ID... [--member ID]`: the engine checks the ids. */
static int notifications_read(struct cli *c)
{
	static const enum opt list_only[] = { O_UNREAD, O_LIMIT, O_CURSOR };
	tl_cmd cmd = { .kind = TL_NOTIFICATIONS_READ };
	tl_slice *ids;
	int rc;

	snprintf(c->subject, sizeof c->subject, "notifications read");
	for (size_t i = 0; i < 3; i++) {
		if (has(c, list_only[i])) {
			char name[40];
			snprintf(name, sizeof name, "--%s",
				 optdefs[list_only[i]].name);
			return usage_error(c, name,
					   "is not taken by notifications read");
		}
	}
	if (c->words_len < 2)
		return usage_error(c, "ids", "missing notification ID: see "
				   "tasklog notifications --help");
	if (!(ids = calloc(c->words_len - 1, sizeof *ids)))
		return cli_oom(c);
	for (size_t i = 1; i < c->words_len; i++)
		ids[i - 1] = tl_s(c->words[i]);
	cmd.id = opt_slice(c, O_MEMBER);
	cmd.ids = ids;
	cmd.ids_len = c->words_len - 1;
	cmd.idempotency_key = opt_slice(c, O_IDEMPOTENCY_KEY);
	rc = exec_one(c, &cmd, human_marked);
	free(ids);
	return rc;
}

/* For people: each notification's task title, as "title" (a task that
 * cannot be read keeps none; its notifications go with a deleted task). */
static int add_titles(struct cli *c, json_t *items)
{
	size_t i;
	json_t *n;

	json_array_foreach(items, i, n) {
		const char *id = json_string_value(json_object_get(n, "task"));
		uint8_t *doc = NULL;
		size_t len;
		tl_err err = { .index = -1 };
		if (!id)
			continue;
		int rc = tl_task_get(c->db, &c->ctx, tl_s(id), &doc, &len,
				     &err);
		if (rc == TL_ESTORAGE) {
			c->err = err;
			return rc;
		}
		if (rc)
			continue;
		json_t *task = doc_json(doc, len);
		free(doc);
		if (!task)
			return collect_failed(c);
		json_t *title = json_object_get(task, "title");
		if (json_is_string(title) &&
		    json_object_set(n, "title", title)) {
			json_decref(task);
			return cli_oom(c);
		}
		json_decref(task);
	}
	return 0;
}

int run_notifications(struct cli *c)
{
	struct collect k = { .items = json_array() };
	char next[TL_CURSOR_MAX] = "";
	int rc;

	if (c->words_len && !strcmp(c->words[0], "read")) {
		json_decref(k.items);
		return notifications_read(c);
	}
	if (c->words_len) {
		json_decref(k.items);
		char cut[64];
		return usage_error(c, NULL,
				   "unexpected argument '%s' (mark read "
				   "with: notifications read ID...)",
				   cut_arg(c->words[0], 40, cut, sizeof cut));
	}
	if (has(c, O_IDEMPOTENCY_KEY)) {
		json_decref(k.items);
		return usage_error(c, "--idempotency-key",
				   "is taken by notifications read only");
	}
	rc = tl_notifications(c->db, &c->ctx, opt_slice(c, O_MEMBER),
			      has(c, O_UNREAD), (size_t)c->limit,
			      opt_slice(c, O_CURSOR), collect_doc, &k, next,
			      &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc == 0 && c->json)
		print_list(c, k.items, next[0] ? json_string(next)
					       : json_null(), NULL);
	else if (rc == 0 && !(rc = add_titles(c, k.items)))
		human_notifications(k.items, next);
	json_decref(k.items);
	return rc;
}
