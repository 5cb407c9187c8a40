/*
 * fuzz_list.c - libFuzzer target: `task list` with due windows, checked
 * against itself.
 *
 * A workspace of 400 tasks (random due dates, some undated, statuses,
 * types, records, assignees, tags, and creation and update times out of
 * step with their creation order) is made once.  Each input is a query:
 * a sort, a page size, filters, maybe a search (byte 3 >> 5: one or two
 * texts of a table, on the titles "tN" and the notes "changed"), and up
 * to four due windows.  The answer the query must give is built from
 * queries that take no part in what is checked:
 *
 *   - the order: the same query without its due windows and its search,
 *     in one page (so that a search, which under the due sort among the
 *     active tasks merges the assignees' ranges, is ordered by another
 *     plan);
 *   - who is in: for each window alone, the tasks of the same query with
 *     that window alone and the search, by the walk in the order asked
 *     for (under the due sort the one window bounds the ranges; under the
 *     others tl_list_window_max 0 holds the window path off).
 *
 * The query with all its windows (and the search), paged, must list
 * exactly the tasks of the order that one of the windows alone listed,
 * in that order, each once.
 * Each page takes a way of its own from the input (tl_list_window_way,
 * and tl_list_lead_way: the assignees' walk alone, or taking turns with
 * the tags' or kinds'), so that the cursors of each serve the others; under the due sort several windows
 * are read span by span, seeking past what lies between them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "list.h"
#include "tasklog.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"
#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char fuzz_name[] = "fuzz_list";

#define N_TASKS 400
#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00Z, a Monday */
#define HOUR INT64_C(3600000)

static tl_db *db;
static char ids[N_TASKS][37];
static uint32_t lcg = 12345;

static uint32_t rnd(uint32_t n)
{
	return fuzz_rnd(&lcg, n);
}

static void run(int64_t now, tl_cmd *c, tl_result *res)
{
	tl_ctx ctx = { .now_ms = now };
	tl_err err;
	if (tl_exec(db, &ctx, c, 1, res, &err))
		die("command", &err);
}

static void setup(void)
{
	static const char *const types[] = { "call", "email", "demo" };
	static const char *const links[] = { "lead:1", "lead:2", "lead:3",
					     "contact:1", "account:2" };
	static const char *const who[] = { "alice", "bob", NULL };
	static const char *const tags[] = { "a", "b", "c" };
	static const char *const later[] = { "completed", "cancelled",
					     "in_progress", "on_hold" };
	db = fuzz_ws_create("list");
	for (int m = 0; m < 2; m++) {
		tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(who[m]),
			     .name = tl_s(who[m]) };
		run(T0, &c, NULL);
	}
	for (int i = 0; i < N_TASKS; i++) {
		char title[16], due[32];
		tl_slice tg[3];
		size_t ntg = 0;
		for (int k = 0; k < 3; k++)
			if (!rnd(3))
				tg[ntg++] = tl_s(tags[k]);
		/* due within two days of T0, on the hour (shared by many) */
		fuzz_iso(T0 + ((int64_t)rnd(96) - 48) * HOUR, due, sizeof due);
		snprintf(title, sizeof title, "t%d", i);
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(title),
			     .type = tl_s(types[rnd(3)]),
			     .link = tl_s(links[rnd(5)]),
			     .assignee = tl_s(who[rnd(3)]),
			     .due = rnd(5) ? tl_s(due) : (tl_slice){ NULL, 0 },
			     .tags = tg, .tags_len = ntg };
		tl_result res = { 0 };
		tl_task t;
		/* created at random minutes: out of step with the seqs, and
		 * some at the same time */
		run(T0 - (int64_t)rnd(600) * 60000, &c, &res);
		if (tl_task_decode(res.doc, res.doc_len, &t))
			die("decode", NULL);
		tl_uuid_format(t.id, ids[i]);
		tl_task_release(&t);
		tl_result_release(&res);
	}
	for (int i = 0; i < N_TASKS; i++) {
		int64_t at = T0 + (int64_t)rnd(600) * 60000;
		if (!rnd(3)) {
			tl_cmd c = { .kind = TL_TASK_UPDATE, .id = tl_s(ids[i]),
				     .notes = tl_s("changed") };
			run(at, &c, NULL);
		}
		if (!rnd(3)) {
			tl_cmd c = { .kind = TL_TASK_STATUS, .id = tl_s(ids[i]),
				     .status = tl_s(later[rnd(4)]) };
			run(at + 1000, &c, NULL);
		}
	}
}

typedef struct got {
	int idx[N_TASKS * 2];
	size_t n;
} got;

static int collect(void *arg, const uint8_t *doc, size_t len)
{
	got *g = arg;
	if (g->n == N_TASKS * 2)
		die("too many tasks listed", NULL);
	g->idx[g->n++] = (int)fuzz_task_index(doc, len, ids, N_TASKS);
	return 0;
}

/* Every page of q (limit as set) into g, page k made the way
 * ways[k % nways] says (tl_list_window_way its low 2 bits,
 * tl_list_lead_way the next 2; none: the defaults).  0, or
 * the first page's refusal (the input's windows may be refused). */
static int list_all(tl_list_query q, const uint8_t *ways, size_t nways,
		    got *g, tl_err *err)
{
	char next[TL_CURSOR_MAX] = "", cur[TL_CURSOR_MAX];
	tl_ctx ctx = { .now_ms = T0 };
	g->n = 0;
	for (size_t page = 0;; page++) {
		tl_list_window_way(nways ? ways[page % nways] % 4 : 3);
		tl_list_lead_way(nways ? ways[page % nways] / 4 % 4 : 3);
		int rc = tl_task_list(db, &ctx, &q, collect, g, next, err);
		tl_list_window_way(3);
		tl_list_lead_way(3);
		if (rc) {
			if (page)
				die("a later page refused", err);
			return rc;
		}
		if (!next[0])
			return 0;
		if (page > 2 * N_TASKS)
			die("pages without end", NULL);
		memcpy(cur, next, sizeof cur);
		q.cursor = tl_s(cur);
	}
}

/* One due window from two bytes. */
static tl_slice window(uint8_t a, uint8_t b, char *buf, size_t cap)
{
	static const char *const named[] = { "overdue", "today", "week",
					     "none" };
	if (a % 8 < 4)
		return tl_s(named[a % 8]);
	char from[32] = "", to[32] = "";
	int64_t lo = T0 + ((int64_t)(a >> 3) - 16) * 3 * HOUR;
	int64_t hi = lo + (int64_t)(1 + b % 32) * HOUR;
	if (a % 8 != 4)
		fuzz_iso(lo, from, sizeof from);
	if (a % 8 != 5)
		fuzz_iso(hi, to, sizeof to);
	if (!from[0] && !to[0])
		fuzz_iso(lo, from, sizeof from);
	snprintf(buf, cap, "%s..%s", from, to);
	return tl_s(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sorts[] = { "due", "created", "updated" };
	static const char *const statuses[] = { "todo", "in_progress",
						"on_hold", "completed",
						"cancelled" };
	static const char *const who[] = { "alice", "bob", "unassigned" };
	static const char *const tags[] = { "a", "b", "c" };
	static const char *const records[] = { "lead:1", "contact:1",
					       "account:2" };
	/* each text's words must all be in the title or the notes */
	static const char *const searches[8][2] = {
		{ NULL }, { "t" }, { "1" }, { "t2 0" }, { "changed" },
		{ "T3", "9" }, { "7 changed" }, { "t1", "t39" }
	};
	static got order, in, all;
	static bool member[N_TASKS];
	tl_slice st[5], as[3], tg[3], types[1], dues[4], srch[2];
	char wbuf[4][80];
	tl_err err;

	if (!db)
		setup();
	if (size < 6)
		return -1;
	tl_list_query q = { .sort = tl_s(sorts[data[0] % 3]),
			    .limit = 1 + (size_t)(data[0] / 3) % 8 };
	for (int i = 0; i < 5; i++)
		if (data[1] >> i & 1)
			st[q.statuses_len++] = tl_s(statuses[i]);
	q.statuses = st;
	for (int i = 0; i < 3; i++)
		if (data[2] >> i & 1)
			as[q.assignees_len++] = tl_s(who[i]);
	q.assignees = as;
	for (int i = 0; i < 3; i++)
		if (data[2] >> (3 + i) & 1)
			tg[q.tags_len++] = tl_s(tags[i]);
	q.tags = tg;
	if (data[2] >> 6 & 1) {
		types[0] = tl_s("demo");
		q.types = types;
		q.types_len = 1;
	}
	if (data[3] % 4 < 3 && data[3] & 4)
		q.record = tl_s(records[data[3] % 4]);
	size_t ns = 0;
	for (int i = 0; i < 2; i++)
		if (searches[data[3] >> 5][i])
			srch[ns++] = tl_s(searches[data[3] >> 5][i]);
	size_t nd = 1 + data[3] / 8 % 4;
	if (size < 4 + 2 * nd)
		return -1;
	for (size_t i = 0; i < nd; i++)
		dues[i] = window(data[4 + 2 * i], data[5 + 2 * i], wbuf[i],
				 sizeof wbuf[i]);
	const uint8_t *ways = data + 4 + 2 * nd;
	size_t nways = size - 4 - 2 * nd;

	/* the order: no window, no search, one page */
	tl_list_query o = q;
	o.limit = 1000;
	if (list_all(o, NULL, 0, &order, &err))
		die("the query without its windows", &err);
	/* who is in: each window alone, with the search, by the walk */
	q.searches = srch;
	q.searches_len = ns;
	memset(member, 0, sizeof member);
	for (size_t i = 0; i < nd; i++) {
		tl_list_query w = o;
		w.searches = srch;
		w.searches_len = ns;
		w.due = dues[i];
		uint8_t walk = 0; /* tl_list_window_way(0) */
		int rc = list_all(w, &walk, 1, &in, &err);
		if (rc) {
			if (rc != TL_EINVALID || strcmp(err.field, "due"))
				die("a window refused", &err);
			return 0; /* the same refusal below, unchecked */
		}
		for (size_t k = 0; k < in.n; k++)
			member[in.idx[k]] = true;
	}
	/* the query itself, a way per page */
	q.due = dues[0];
	q.dues = dues + 1;
	q.dues_len = nd - 1;
	if (list_all(q, ways, nways, &all, &err))
		die("the query", &err);
	size_t j = 0;
	for (size_t k = 0; k < order.n; k++) {
		if (!member[order.idx[k]])
			continue;
		if (j >= all.n || all.idx[j] != order.idx[k]) {
			fprintf(stderr, "position %zu: listed %s, wanted t%d\n",
				j, j < all.n ? ids[all.idx[j]] : "nothing",
				order.idx[k]);
			die("differs", NULL);
		}
		j++;
	}
	if (j != all.n)
		die("more tasks listed than wanted", NULL);
	return 0;
}
