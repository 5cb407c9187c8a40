/*
 * consumer.c - a program outside the project, built against an installed
 * tasklog (headers, library and tasklog.pc only), as tests/install/check.sh
 * builds it: once against libtasklog.so, once against libtasklog.a.
 *
 * usage: consumer DIR   (DIR must not exist; it becomes a workspace)
 *
 * It opens a workspace with every view, initialises it, adds a member and
 * tasks in one batch, group-commits two requests of which one fails,
 * pages through a task list, reads the log and a task back, and verifies.
 * Exits 0 when every outcome is the expected one, else 1 with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <tasklog.h>
#include <tasklog_projections.h>

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "consumer: %s:%d: ", __FILE__,    \
				__LINE__);                                \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			failures++;                                       \
		}                                                         \
	} while (0)

static int count_doc(void *arg, const uint8_t *doc, size_t len)
{
	(void)doc;
	(void)len;
	(*(size_t *)arg)++;
	return 0;
}

struct seen {
	size_t n;
	uint64_t last;
	int bad;
};

static int on_event(void *arg, const tl_event *ev)
{
	struct seen *s = arg;
	if (ev->seq != s->last + 1 || !ev->raw_len)
		s->bad++;
	s->last = ev->seq;
	s->n++;
	return 0;
}

static void on_problem(void *arg, const char *problem)
{
	(void)arg;
	fprintf(stderr, "consumer: verify: %s\n", problem);
}

/* The "title" of a msgpack task document, NUL-terminated into out. */
static void doc_title(const uint8_t *doc, size_t len, char *out, size_t cap)
{
	msgpack_unpacked u;
	out[0] = 0;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)doc, len, NULL) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    u.data.type == MSGPACK_OBJECT_MAP) {
		const msgpack_object_map *m = &u.data.via.map;
		for (uint32_t i = 0; i < m->size; i++) {
			const msgpack_object *k = &m->ptr[i].key;
			const msgpack_object *v = &m->ptr[i].val;
			if (k->type == MSGPACK_OBJECT_STR &&
			    k->via.str.size == 5 &&
			    !memcmp(k->via.str.ptr, "title", 5) &&
			    v->type == MSGPACK_OBJECT_STR &&
			    v->via.str.size < cap) {
				memcpy(out, v->via.str.ptr, v->via.str.size);
				out[v->via.str.size] = 0;
			}
		}
	}
	msgpack_unpacked_destroy(&u);
}

int main(int argc, char **argv)
{
	tl_err err = { 0 };
	tl_db *db;
	size_t nviews;

	if (argc != 2) {
		fprintf(stderr, "usage: consumer DIR\n");
		return 2;
	}
	tl_open_opts oo = { .flags = TL_OPEN_CREATE,
			    .views = tl_views_all(&nviews) };
	oo.views_len = nviews;
	if (tl_db_open(argv[1], &oo, &db, &err)) {
		fprintf(stderr, "consumer: open: %s\n", err.message);
		return 1;
	}
	CHECK(nviews >= 3, "%zu views", nviews);
	CHECK(!strcmp(tl_version(), TL_VERSION), "library %s, header %s",
	      tl_version(), TL_VERSION);
	tl_init_opts io = { .tz = "Europe/Berlin" };
	CHECK(tl_db_init(db, &io, &err) == 0, "init: %s", err.message);
	tl_settings st;
	CHECK(tl_db_settings(db, &st, &err) == 0 &&
		      !strcmp(st.tz, "Europe/Berlin") && !strcmp(st.admin, "admin"),
	      "settings");

	/* One batch: a member and two tasks assigned to her. */
	tl_ctx ctx = { .actor = "admin", .now_ms = 1796000000000LL };
	tl_cmd batch[3] = {
		{ .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
		  .name = tl_s("Alice Example") },
		{ .kind = TL_TASK_ADD, .title = tl_s("Call Dana"),
		  .type = tl_s("call"), .link = tl_s("lead:42"),
		  .due = tl_s("+1d"), .assignee = tl_s("alice") },
		{ .kind = TL_TASK_ADD, .title = tl_s("Send the offer"),
		  .type = tl_s("email"), .link = tl_s("lead:42"),
		  .due = tl_s("+2d"), .assignee = tl_s("alice") },
	};
	tl_result res[3];
	CHECK(tl_exec(db, &ctx, batch, 3, res, &err) == 0, "batch: %s",
	      err.message);
	CHECK(res[1].appended && res[2].seq == res[1].seq + 1, "seqs %llu %llu",
	      (unsigned long long)res[1].seq, (unsigned long long)res[2].seq);
	char title[64];
	doc_title(res[2].doc, res[2].doc_len, title, sizeof title);
	CHECK(!strcmp(title, "Send the offer"), "result title '%s'", title);
	for (int i = 0; i < 3; i++)
		tl_result_release(&res[i]);

	/* Group commit: the second request fails, the first stays. */
	tl_txn *txn;
	tl_cmd ok = { .kind = TL_TASK_ADD, .title = tl_s("Demo"),
		      .type = tl_s("demo"), .link = tl_s("account:7"),
		      .assignee = tl_s("alice") };
	tl_cmd bad = { .kind = TL_TASK_ADD, .title = tl_s("Bad"),
		       .type = tl_s("fax"), .link = tl_s("account:7") };
	tl_result r1, r2;
	CHECK(tl_txn_begin(db, &txn, &err) == 0, "txn: %s", err.message);
	CHECK(tl_txn_exec(txn, &ctx, &ok, 1, &r1, &err) == 0, "ok: %s",
	      err.message);
	tl_result_release(&r1);
	int rc = tl_txn_exec(txn, &ctx, &bad, 1, &r2, &err);
	CHECK(rc == TL_EINVALID && !strcmp(err.field, "type"),
	      "bad request: rc %d field '%s'", rc, err.field);
	CHECK(tl_txn_commit(txn, &err) == 0, "commit: %s", err.message);

	/* alice's tasks, two per page. */
	tl_slice who = tl_s("alice");
	tl_list_query q = { .assignees = &who, .assignees_len = 1,
			    .limit = 2 };
	char cursor[TL_CURSOR_MAX] = "";
	size_t listed = 0, pages = 0;
	do {
		q.cursor = tl_s(cursor);
		char next[TL_CURSOR_MAX];
		CHECK(tl_task_list(db, &ctx, &q, count_doc, &listed, next,
				   &err) == 0,
		      "list: %s", err.message);
		memcpy(cursor, next, sizeof cursor);
		pages++;
	} while (cursor[0] && pages < 10);
	CHECK(listed == 3 && pages == 2, "listed %zu in %zu pages", listed,
	      pages);

	size_t history = 0;
	CHECK(tl_timeline(db, &ctx, tl_s("lead:42"), 50, tl_s(""), NULL,
			  count_doc, &history, cursor, &err) == 0,
	      "timeline: %s", err.message);
	CHECK(history == 2, "timeline has %zu entries", history);

	/* The whole log, in order: init, admin, alice, 3 tasks. */
	struct seen s = { 0 };
	CHECK(tl_log_read(db, &ctx, 1, 0, (tl_slice){ NULL, 0 }, on_event, &s,
			  &err) == 0,
	      "log: %s", err.message);
	CHECK(s.n >= 5 && !s.bad, "log: %zu events, %d out of order", s.n,
	      s.bad);

	tl_stats stats;
	CHECK(tl_db_stats(db, &ctx, &stats, &err) == 0 && stats.tasks == 3 &&
		      stats.active == 3 && stats.last_seq == s.last,
	      "stats: %llu tasks", (unsigned long long)stats.tasks);
	CHECK(tl_verify(db, &ctx, on_problem, NULL, &err) == 0,
	      "verify: %s", err.message);
	tl_db_close(db);
	if (failures)
		return 1;
	printf("consumer: ok (%zu events)\n", s.n);
	return 0;
}
