/*
 * fuzz_search_lead.c - libFuzzer target: `task list --search` over many
 * assignees, paged, against a model.
 *
 * Four workspaces are made once, alike but for how many assignees hold
 * active tasks (each member with one, and the unassigned tasks): 11, 64
 * (ASSIGNEE_RANGES_MAX: a search among the active tasks under the due
 * sort merges their M ranges), 65 and 80 (past it: S leads, each document
 * read by id).  Each also has members whose tasks are all done, whose M
 * ranges are empty.  Their tasks have titles and notes of a few words of
 * a small vocabulary, statuses of all five kinds (some changed back),
 * due dates on the hour (many shared) or none, creation times out of step
 * with their creation order, later updates (due dates moved, assignees
 * changed, tasks reassigned to no one), and some are deleted.  The model
 * is what the harness did: every task is then read back (tl_task_get)
 * and must agree with it, and a search that matches nothing must read
 * documents by id exactly in the workspaces with more than 64 ranges
 * (tl_list_docs_read), so that both plans are the ones fuzzed.
 *
 * Input: byte 0 the workspace (% 4) and sort (/ 4 % 3: due, created,
 * updated); byte 1 the statuses (>> 5: 0-1 none given, 2-3 exactly the
 * three active ones, else the set of bits 0-4, todo .. cancelled, none
 * given when it is empty); byte 2 the page size (& 7: 1, 2, 3, 5, 8, 20,
 * 50, 1000) and an assignee filter (>> 3 & 7: 5 one, 6 two, 7 one and
 * unassigned, else none); bytes 3 and 4 which assignees (% (members +
 * 1): the last is unassigned); each further byte a word (& 31: a word of
 * the vocabulary, a part of one, or one no task holds; & 0x20 in
 * capitals; & 0x40 starts another search text; & 0x80 cut from the word
 * before by U+2028, not a space), up to 8 texts of up to 16 words; no
 * byte, no search.
 *
 * Every page is read to its end: the tasks listed must be, each once and
 * in order, those the model lists: not deleted, of a status asked for
 * (else an active one), of an assignee asked for, holding in the title or
 * notes every word of one of the texts (ASCII: the words in small
 * letters, found anywhere); due soonest first, undated last, ties in
 * creation order; created or updated latest first, ties latest created
 * first (docs/format.md, the `tasks` view's sorts).
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

const char fuzz_name[] = "fuzz_search_lead";

#define N_WS 4
#define TASKS_MAX 260
#define RANGES_MAX 64 /* ASSIGNEE_RANGES_MAX of query.c */
#define T0 INT64_C(1772442000000) /* 2026-03-02T09:00:00Z, as fuzz_list's */
#define MINUTE INT64_C(60000)
#define HOUR INT64_C(3600000)

static const char *const statuses[] = { "todo", "in_progress", "on_hold",
					"completed", "cancelled" };
#define ACTIVE(st) ((st) < 3)

/* The titles' and notes' words; a search's word is one of them, a part
 * of one, or one no task holds. */
static const char *const vocab[12] = { "call",   "email",   "demo",
				       "renewal", "invoice", "dana",
				       "quote",  "follow",  "contract",
				       "review", "budget",  "meeting" };
static const char *const words[32] = {
	"call",  "email", "demo", "renewal", "invoice", "dana", "quote",
	"follow", "contract", "review", "budget", "meeting", "re", "al",
	"in",    "e",     "ll",   "ew",      "on",      "ote",  "con",
	"ing",   "a",     "t",    "dana",    "call",    "zebra", "xyz",
	"meet",  "renew", "vo",   "q"
};

/* One task as the harness made it. */
typedef struct task {
	char title[64], notes[64]; /* small letters; notes "" = none */
	int who;                   /* member index, -1 unassigned */
	int status;                /* index in statuses[] */
	bool has_due, deleted;
	int64_t due, created, updated;
} task;

/* A workspace: `ranges` assignees with active tasks (members 0 ..
 * ranges - 2 and the unassigned), then `idle` members with done tasks
 * only. */
typedef struct ws {
	tl_db *db;
	int ranges, idle, members;
	size_t n;
	task t[TASKS_MAX];
	char ids[TASKS_MAX][37];
} ws;

static const struct {
	int ranges, idle;
	size_t tasks;
} shapes[N_WS] = { { 11, 2, 150 }, { 64, 3, 220 }, { 65, 3, 220 },
		   { 80, 2, 260 } };

static ws wss[N_WS];
static uint32_t lcg = 4321;

static uint32_t rnd(uint32_t n)
{
	return fuzz_rnd(&lcg, n);
}

static void member_id(int m, char *buf, size_t cap)
{
	snprintf(buf, cap, "m%02d", m);
}

/* Runs c at now; a task command must change its task. */
static void run(tl_db *db, int64_t now, const tl_cmd *c, tl_result *res)
{
	tl_ctx ctx = { .now_ms = now };
	tl_result own = { 0 };
	tl_err err;
	if (tl_exec(db, &ctx, c, 1, res ? res : &own, &err))
		die("command", &err);
	if (!(res ? res : &own)->appended)
		die("a command that changed nothing", NULL);
	tl_result_release(&own);
}

/* 1 to max words of the vocabulary, cut by spaces. */
static void some_words(char *buf, size_t cap, int max)
{
	int n = 1 + (int)rnd((uint32_t)max);
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(buf);
		snprintf(buf + len, cap - len, "%s%s", i ? " " : "",
			 vocab[rnd(12)]);
	}
}

static void add_task(ws *w, size_t i, int who, int64_t now)
{
	task *t = &w->t[i];
	char due[32], as[8];
	some_words(t->title, sizeof t->title, 4);
	if (rnd(2))
		some_words(t->notes, sizeof t->notes, 3);
	t->who = who;
	t->has_due = rnd(5) != 0;
	t->due = T0 + ((int64_t)rnd(72) - 24) * HOUR;
	t->created = t->updated = now;
	fuzz_iso(t->due, due, sizeof due);
	member_id(who, as, sizeof as);
	tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(t->title),
		     .notes = t->notes[0] ? tl_s(t->notes)
					  : (tl_slice){ NULL, 0 },
		     .assignee = who >= 0 ? tl_s(as) : (tl_slice){ NULL, 0 },
		     .due = t->has_due ? tl_s(due) : (tl_slice){ NULL, 0 },
		     .link = tl_s("lead:1") };
	tl_result res = { 0 };
	tl_task got;
	run(w->db, now, &c, &res);
	if (tl_task_decode(res.doc, res.doc_len, &got))
		die("decode", NULL);
	tl_uuid_format(got.id, w->ids[i]);
	tl_task_release(&got);
	tl_result_release(&res);
}

static void set_status(ws *w, size_t i, int st, int64_t now)
{
	tl_cmd c = { .kind = TL_TASK_STATUS, .id = tl_s(w->ids[i]),
		     .status = tl_s(statuses[st]) };
	run(w->db, now, &c, NULL);
	w->t[i].status = st;
	w->t[i].updated = now;
}

static void assign(ws *w, size_t i, int who, int64_t now)
{
	char as[8];
	member_id(who, as, sizeof as);
	tl_cmd c = { .kind = TL_TASK_ASSIGN, .id = tl_s(w->ids[i]),
		     .assignee = who >= 0 ? tl_s(as) : (tl_slice){ NULL, 0 },
		     .unassign = who < 0 };
	run(w->db, now, &c, NULL);
	w->t[i].who = who;
	w->t[i].updated = now;
}

/* A new due date (or none) and notes. */
static void update(ws *w, size_t i, int64_t now)
{
	task *t = &w->t[i];
	char due[32];
	bool had = t->has_due;
	int64_t was = t->due;
	t->has_due = !had || rnd(3);
	t->due = T0 + ((int64_t)rnd(72) - 24) * HOUR;
	if (had && t->has_due && t->due == was)
		t->due += HOUR; /* a change, whatever the notes */
	fuzz_iso(t->due, due, sizeof due);
	some_words(t->notes, sizeof t->notes, 3);
	tl_cmd c = { .kind = TL_TASK_UPDATE, .id = tl_s(w->ids[i]),
		     .notes = tl_s(t->notes),
		     .due = t->has_due ? tl_s(due) : (tl_slice){ NULL, 0 },
		     .no_due = !t->has_due };
	run(w->db, now, &c, NULL);
	t->updated = now;
}

/* Every task read back must be the model's. */
static void check_model(ws *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const task *m = &w->t[i];
		uint8_t *doc;
		size_t len;
		tl_task t;
		tl_err err;
		char as[8] = "";
		if (tl_task_get(w->db, NULL, tl_s(w->ids[i]), &doc, &len, &err))
			die("get", &err);
		if (tl_task_decode(doc, len, &t))
			die("decode", NULL);
		if (m->who >= 0)
			member_id(m->who, as, sizeof as);
		if (t.deleted != m->deleted ||
		    strcmp(tl_status_tokens[t.status], statuses[m->status]) ||
		    strcmp(t.assignee ? t.assignee : "", as) ||
		    t.has_due != m->has_due ||
		    (m->has_due && t.due_at != m->due) ||
		    t.created_at != m->created || t.updated_at != m->updated ||
		    strcmp(t.title, m->title) ||
		    strcmp(t.notes ? t.notes : "", m->notes)) {
			fprintf(stderr, "task %zu %s\n", i, w->ids[i]);
			die("the model is not what was made", NULL);
		}
		tl_task_release(&t);
		free(doc);
	}
}

/* The assignees (unassigned one) holding active tasks. */
static int count_ranges(const ws *w)
{
	bool held[TASKS_MAX + 1] = { false };
	int n = 0;
	for (size_t i = 0; i < w->n; i++) {
		const task *t = &w->t[i];
		if (!t->deleted && ACTIVE(t->status) && !held[t->who + 1]) {
			held[t->who + 1] = true;
			n++;
		}
	}
	return n;
}

static int none(void *arg, const uint8_t *doc, size_t len)
{
	die("a search for no word listed a task", NULL);
}

/* Whether a search that matches nothing reads documents by id: S leads
 * it, not the assignees' ranges. */
static bool reads_by_id(ws *w)
{
	tl_slice s = tl_s("zebra");
	tl_list_query q = { .searches = &s, .searches_len = 1,
			    .limit = 1000 };
	char next[TL_CURSOR_MAX];
	tl_err err;
	tl_list_docs_read = 0;
	if (tl_task_list(w->db, NULL, &q, none, NULL, next, &err))
		die("list", &err);
	return tl_list_docs_read > 0;
}

/* Anchors first: task k < ranges (member k, the last unassigned) stays
 * active and theirs.  Then tasks of anyone, an idle member's done at
 * once; then changes, each task's later than its own before. */
static void make_ws(int k)
{
	char tag[16];
	ws *w = &wss[k];
	snprintf(tag, sizeof tag, "lead%d", k);
	w->db = fuzz_ws_create(tag);
	w->ranges = shapes[k].ranges;
	w->idle = shapes[k].idle;
	w->members = w->ranges - 1 + w->idle;
	w->n = shapes[k].tasks;
	for (int m = 0; m < w->members; m++) {
		char id[8];
		member_id(m, id, sizeof id);
		tl_cmd c = { .kind = TL_MEMBER_ADD, .id = tl_s(id),
			     .name = tl_s(id) };
		run(w->db, T0 - 1000 * MINUTE, &c, NULL);
	}
	int busy = w->ranges - 1; /* members that may hold active tasks */
	for (size_t i = 0; i < w->n; i++) {
		int who = (int)i < busy ? (int)i : -1; /* an anchor */
		if ((int)i >= w->ranges)
			who = (int)rnd((uint32_t)w->members + 1) - 1;
		add_task(w, i, who, T0 - (int64_t)rnd(600) * MINUTE);
		if (who >= busy)
			set_status(w, i, 3 + (int)rnd(2),
				   T0 + (int64_t)rnd(600) * MINUTE);
	}
	for (size_t i = 0; i < w->n; i++) {
		task *t = &w->t[i];
		bool anchor = (int)i < w->ranges, idle = t->who >= busy;
		int64_t at = T0 + 600 * MINUTE + (int64_t)rnd(600) * MINUTE;
		if (!idle && !rnd(3)) {
			int st = (t->status + 1 + (int)rnd(4)) % 5;
			if (!anchor || ACTIVE(st))
				set_status(w, i, st, at += MINUTE);
		}
		if (!rnd(4))
			update(w, i, at += MINUTE);
		if (!anchor && !idle && !rnd(4)) {
			int who = (int)rnd((uint32_t)busy + 1) - 1;
			if (who != t->who)
				assign(w, i, who, at += MINUTE);
		}
		if (!anchor && !idle && ACTIVE(t->status) && !rnd(4))
			set_status(w, i, (t->status + 1) % 3, at += 30000);
		if (!anchor && !rnd(25)) {
			tl_cmd c = { .kind = TL_TASK_DELETE,
				     .id = tl_s(w->ids[i]) };
			run(w->db, at += MINUTE, &c, NULL);
			t->deleted = true;
			t->updated = at;
		}
	}
	check_model(w);
	if (count_ranges(w) != w->ranges)
		die("assignees with active tasks: not as made", NULL);
	if (reads_by_id(w) != (w->ranges > RANGES_MAX)) {
		fprintf(stderr, "workspace %d: %d assignees, documents read by "
				"id %d\n", k, w->ranges, reads_by_id(w));
		die("the plan is not the one this workspace is for", NULL);
	}
}

/* ---- a query and its model ---------------------------------------------- */

typedef struct query {
	int ws, sort; /* 0 due, 1 created, 2 updated */
	bool status[5], given; /* given: as --status; else the active ones */
	int who[2]; /* member index, -1 unassigned */
	size_t nwho, limit;
	char text[8][16 * 12];
	size_t ntext;
	const char *word[8][16];
	size_t nword[8];
} query;

static bool holds(const char *text, const char *word)
{
	return strstr(text, word) != NULL;
}

static bool wanted(const query *q, const task *t)
{
	if (t->deleted || !q->status[t->status])
		return false;
	if (q->nwho) {
		bool in = false;
		for (size_t i = 0; i < q->nwho; i++)
			in |= q->who[i] == t->who;
		if (!in)
			return false;
	}
	if (!q->ntext)
		return true;
	for (size_t j = 0; j < q->ntext; j++) {
		bool all = true;
		for (size_t k = 0; k < q->nword[j] && all; k++)
			all = holds(t->title, q->word[j][k]) ||
			      holds(t->notes, q->word[j][k]);
		if (all)
			return true;
	}
	return false;
}

/* Whether task a is listed before task b. */
static bool before(const ws *w, int sort, size_t a, size_t b)
{
	const task *x = &w->t[a], *y = &w->t[b];
	switch (sort) {
	case 0:
		if (x->has_due != y->has_due)
			return x->has_due;
		if (x->has_due && x->due != y->due)
			return x->due < y->due;
		return a < b;
	case 1:
		if (x->created != y->created)
			return x->created > y->created;
		return a > b;
	default:
		if (x->updated != y->updated)
			return x->updated > y->updated;
		return a > b;
	}
}

/* The model's listing into out; how many. */
static size_t model(const query *q, size_t *out)
{
	const ws *w = &wss[q->ws];
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (!wanted(q, &w->t[i]))
			continue;
		size_t k = n++;
		for (; k > 0 && before(w, q->sort, i, out[k - 1]); k--)
			out[k] = out[k - 1];
		out[k] = i;
	}
	return n;
}

/* The query of an input; false when it is too short. */
static bool parse(const uint8_t *data, size_t size, query *q)
{
	static const size_t limits[8] = { 1, 2, 3, 5, 8, 20, 50, 1000 };
	if (size < 5)
		return false;
	memset(q, 0, sizeof *q);
	q->ws = data[0] % N_WS;
	q->sort = data[0] / N_WS % 3;
	int members = wss[q->ws].members;
	q->given = data[1] >> 5 >= 2 && (data[1] >> 5 < 4 || data[1] & 31);
	for (int st = 0; st < 5; st++)
		q->status[st] = data[1] >> 5 < 4 || !(data[1] & 31)
					? ACTIVE(st)
					: data[1] >> st & 1;
	q->limit = limits[data[2] & 7];
	int pick = data[2] >> 3 & 7;
	if (pick >= 5) {
		q->who[q->nwho++] = data[3] % (members + 1);
		if (pick == 6)
			q->who[q->nwho++] = data[4] % (members + 1);
		if (pick == 7)
			q->who[q->nwho++] = members;
		for (size_t i = 0; i < q->nwho; i++)
			if (q->who[i] == members)
				q->who[i] = -1;
	}
	for (size_t i = 5; i < size; i++) {
		uint8_t b = data[i];
		if (!q->ntext || (b & 0x40 && q->ntext < 8 &&
				  q->nword[q->ntext - 1]))
			q->ntext++;
		size_t j = q->ntext - 1;
		if (q->ntext == 8 && q->nword[j] == 16)
			break;
		if (q->nword[j] == 16)
			continue;
		q->word[j][q->nword[j]++] = words[b & 31];
		char *t = q->text[j];
		size_t len = strlen(t);
		const char *cut = b & 0x80 ? "\xe2\x80\xa8" : " ";
		if (len) {
			memcpy(t + len, cut, strlen(cut));
			len += strlen(cut);
		}
		for (const char *c = words[b & 31]; *c; c++)
			t[len++] = b & 0x20 ? (char)(*c - 'a' + 'A') : *c;
		t[len] = 0;
	}
	return true;
}

static void print_query(const query *q)
{
	static const char *const sorts[] = { "due", "created", "updated" };
	fprintf(stderr, "workspace %d (%d assignees), sort %s, limit %zu, "
			"statuses", q->ws, wss[q->ws].ranges, sorts[q->sort],
		q->limit);
	for (int st = 0; st < 5; st++)
		if (q->status[st])
			fprintf(stderr, " %s", statuses[st]);
	fprintf(stderr, q->given ? " (given)" : " (none given)");
	fprintf(stderr, ", assignees");
	for (size_t i = 0; i < q->nwho; i++)
		fprintf(stderr, " m%02d", q->who[i]);
	for (size_t j = 0; j < q->ntext; j++)
		fprintf(stderr, ", search '%s'", q->text[j]);
	fprintf(stderr, "\n");
}

typedef struct got {
	const query *q;
	const ws *w;
	size_t idx[TASKS_MAX], n;
	bool listed[TASKS_MAX];
} got;

static int collect(void *arg, const uint8_t *doc, size_t len)
{
	got *g = arg;
	size_t i = fuzz_task_index(doc, len, (char(*)[37])g->w->ids, g->w->n);
	if (g->listed[i]) {
		print_query(g->q);
		fprintf(stderr, "task %s, after %zu tasks\n", g->w->ids[i],
			g->n);
		die("listed twice", NULL);
	}
	g->listed[i] = true;
	g->idx[g->n++] = i;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sorts[] = { "due", "created", "updated" };
	static query q;
	static got g;
	static size_t want[TASKS_MAX];
	char as[2][16], next[TL_CURSOR_MAX] = "", cur[TL_CURSOR_MAX];
	tl_slice st[5], who[2], s[8];
	tl_err err;

	if (!wss[0].db)
		for (int k = 0; k < N_WS; k++)
			make_ws(k);
	if (!parse(data, size, &q))
		return -1;
	ws *w = &wss[q.ws];
	tl_list_query lq = { .sort = tl_s(sorts[q.sort]), .limit = q.limit,
			     .statuses = st, .assignees = who, .searches = s,
			     .searches_len = q.ntext };
	if (q.given)
		for (int i = 0; i < 5; i++)
			if (q.status[i])
				st[lq.statuses_len++] = tl_s(statuses[i]);
	for (size_t i = 0; i < q.nwho; i++) {
		if (q.who[i] < 0)
			snprintf(as[i], sizeof as[i], "unassigned");
		else
			member_id(q.who[i], as[i], sizeof as[i]);
		who[lq.assignees_len++] = tl_s(as[i]);
	}
	for (size_t j = 0; j < q.ntext; j++)
		s[j] = tl_s(q.text[j]);

	memset(&g, 0, sizeof g);
	g.q = &q;
	g.w = w;
	for (size_t page = 0;; page++) {
		memset(&err, 0, sizeof err);
		if (tl_task_list(w->db, NULL, &lq, collect, &g, next, &err)) {
			print_query(&q);
			die("refused", &err);
		}
		if (!next[0])
			break;
		if (page > w->n) {
			print_query(&q);
			die("pages without end", NULL);
		}
		memcpy(cur, next, sizeof cur);
		lq.cursor = tl_s(cur);
	}
	size_t n = model(&q, want);
	for (size_t k = 0; k < n || k < g.n; k++)
		if (k >= n || k >= g.n || want[k] != g.idx[k]) {
			print_query(&q);
			fprintf(stderr, "position %zu of %zu (%zu wanted): "
					"listed %s, wanted %s\n", k, g.n, n,
				k < g.n ? w->ids[g.idx[k]] : "nothing",
				k < n ? w->ids[want[k]] : "nothing");
			die("disagrees with the model", NULL);
		}
	return 0;
}
