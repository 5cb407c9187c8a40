/*
 * fuzz_search.c - libFuzzer target: `task list --search` against a model.
 *
 * A workspace of a few tasks (titles and notes in several scripts) is made
 * once.  Each input is cut at newlines into up to 9 search texts; the first
 * byte picks an assignee filter and a page size.  tl_task_list must either
 * refuse the texts (TL_EINVALID, field "search") or list, over all its
 * pages, exactly the tasks that the model finds: a task passes when, for
 * one of the texts, every word (the folded text cut at spaces and line or
 * paragraph separators) is in its folded title or notes (tl_text_holds).
 * The model repeats the query's glue (cutting into words, any of the
 * texts, all of the words, title or notes), not the folding itself, which
 * fuzz_text checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasklog.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"
#include "fuzz_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const char fuzz_name[] = "fuzz_search";

static const char *const titles[][3] = { /* title, notes, assignee */
	{ "Call Dana about the R\xc3\xa9sum\xc3\xa9", NULL, "alice" },
	{ "\xef\xac\x81nal OFFER", "ask Dana\xc2\xa0" "for the e\xe2\x80\x91mail", NULL },
	{ "\xe3\x83\x91\xe3\x83\xb3 \xea\xb0\x95\xeb\x82\xa8", "\xe0\xa4\x95\xe0\xa4\xbf", "alice" },
	{ "Stra\xc3\x9f" "e \xce\xa3\xce\x99\xce\xa3", "line\nbreak\ttab", NULL },
	{ "caf\xc3\xa9 cr\xc3\xa8me", "", "alice" },
	{ "x", "\xe2\x80\xa8sep\xe2\x80\xa9", NULL },
};
#define N_TASKS (sizeof titles / sizeof titles[0])

static tl_db *db;
static char ids[N_TASKS][37];

static void setup(void)
{
	tl_err err;
	db = fuzz_ws_create("search");
	tl_cmd alice = { .kind = TL_MEMBER_ADD, .id = tl_s("alice"),
			 .name = tl_s("Alice") };
	if (tl_exec(db, NULL, &alice, 1, NULL, &err))
		die("member", &err);
	for (size_t i = 0; i < N_TASKS; i++) {
		tl_cmd c = { .kind = TL_TASK_ADD, .title = tl_s(titles[i][0]),
			     .notes = tl_s(titles[i][1]),
			     .assignee = tl_s(titles[i][2]),
			     .link = tl_s("lead:1") };
		tl_result res = { 0 };
		tl_task t;
		if (tl_exec(db, NULL, &c, 1, &res, &err) ||
		    tl_task_decode(res.doc, res.doc_len, &t))
			die("add", &err);
		tl_uuid_format(t.id, ids[i]);
		tl_task_release(&t);
		tl_result_release(&res);
	}
}

/* The model: whether task i passes one of the n texts. */
static bool holds_text(const int32_t *t, ptrdiff_t nt, const int32_t *nts,
		       ptrdiff_t nn, const int32_t *w, size_t wn)
{
	return tl_text_holds(t, (size_t)nt, w, wn) ||
	       (nn > 0 && tl_text_holds(nts, (size_t)nn, w, wn));
}

static bool model(size_t i, const tl_slice *s, size_t n)
{
	static int32_t t[4096], nts[4096], f[8192];
	ptrdiff_t nt = tl_text_fold(tl_s(titles[i][0]), t, 4096);
	ptrdiff_t nn = titles[i][1]
			       ? tl_text_fold(tl_s(titles[i][1]), nts, 4096)
			       : 0;
	if (nt < 0 || nt > 4096 || nn < 0 || nn > 4096)
		die("model fold", NULL);
	for (size_t j = 0; j < n; j++) {
		ptrdiff_t nf = tl_text_fold(s[j], f, 8192);
		if (nf < 0 || nf > 8192)
			die("model fold of a search", NULL);
		bool all = true;
		for (ptrdiff_t k = 0; k < nf && all;) {
			while (k < nf && (f[k] == ' ' || f[k] == 0x2028 ||
					  f[k] == 0x2029))
				k++;
			ptrdiff_t start = k;
			while (k < nf && f[k] != ' ' && f[k] != 0x2028 &&
			       f[k] != 0x2029)
				k++;
			if (k > start)
				all = holds_text(t, nt, nts, nn, f + start,
						 (size_t)(k - start));
		}
		if (all)
			return true;
	}
	return false;
}

typedef struct seen {
	bool listed[N_TASKS];
	size_t n;
} seen;

static int collect(void *arg, const uint8_t *doc, size_t len)
{
	seen *s = arg;
	size_t i = fuzz_task_index(doc, len, ids, N_TASKS);
	if (s->listed[i])
		die("listed twice", NULL);
	s->listed[i] = true;
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tl_slice s[9];
	size_t n = 0;
	tl_err err;

	if (!db)
		setup();
	if (size < 1)
		return -1;
	bool by_alice = data[0] & 1;
	size_t limit = 1 + (size_t)(data[0] >> 1) % 4;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	while (p <= end && n < 9) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		s[n++] = (tl_slice){ p, (size_t)(e - p) };
		p = e + 1;
	}
	tl_slice alice = tl_s("alice");
	tl_list_query q = { .searches = s, .searches_len = n,
			    .assignees = by_alice ? &alice : NULL,
			    .assignees_len = by_alice, .limit = limit };
	seen got = { 0 };
	char next[TL_CURSOR_MAX] = "";
	for (int page = 0;; page++) {
		memset(&err, 0, sizeof err);
		int rc = tl_task_list(db, NULL, &q, collect, &got, next, &err);
		if (rc) {
			if (rc != TL_EINVALID || strcmp(err.field, "search") ||
			    page)
				die("refused", &err);
			return 0;
		}
		if (!next[0])
			break;
		if (page > (int)N_TASKS)
			die("pages without end", NULL);
		q.cursor = tl_s(next);
	}
	for (size_t i = 0; i < N_TASKS; i++) {
		bool want = model(i, s, n) &&
			    (!by_alice || (titles[i][2] &&
					   !strcmp(titles[i][2], "alice")));
		if (want != got.listed[i]) {
			fprintf(stderr, "task %zu (%s): listed %d, model %d\n",
				i, titles[i][0], got.listed[i], want);
			die("disagrees with the model", NULL);
		}
	}
	return 0;
}
