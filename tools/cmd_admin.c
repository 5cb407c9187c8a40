/*
 * cmd_admin.c - maintenance: rebuild, backup, verify and stats.
 */
#include <ctype.h>
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
#include "progress.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* ---- rebuild ----------------------------------------------------------------- */

int run_rebuild(struct cli *c)
{
	const char **names = c->many[O_PROJECTION];
	size_t n = c->many_len[O_PROJECTION], all_len;
	const tl_view *const *all = tl_db_views(c->db, &all_len);
	struct rebuild_bar bar = { 0 };
	json_t *rebuilt;
	int rc;

	rc = tl_rebuild_steps(c->db, &c->ctx, names, n,
			      isatty(2) ? rebuild_progress : NULL, &bar,
			      &c->err);
	end_rebuild_progress(&bar, rc);
	if (rc)
		return rc;
	done_durably = true;
	rebuilt = json_array();
	for (size_t i = 0; i < (n ? n : all_len); i++) {
		const char *name = n ? names[i] : tl_view_name(all[i]);
		bool dup = false;
		for (size_t j = 0; j < json_array_size(rebuilt); j++)
			dup |= !strcmp(json_string_value(
					       json_array_get(rebuilt, j)),
				       name);
		if (!dup)
			json_array_append_new(rebuilt, json_string(name));
	}
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set(o, "rebuilt", rebuilt);
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		size_t i;
		json_t *v;
		fputs("rebuilt", stdout);
		json_array_foreach(rebuilt, i, v)
			printf("%s %s", i ? "," : "", json_string_value(v));
		putchar('\n');
	}
	json_decref(rebuilt);
	return 0;
}

/* ---- backup ------------------------------------------------------------ */

/* A backup that a signal ends (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) removes
 * its partial copy, and DIR when it made it, as a failure does (since
 * 0.3.54; before, DIR/data.mdb.partial stayed, up to the workspace's
 * size, and the next backup into DIR refused it).  The partial file is
 * this command's from the copy's first progress call, which the library
 * makes once it has made the file; a whole copy has no partial name. */
static char bk_partial[PATH_MAX + 32], bk_dir[PATH_MAX + 1];
static volatile sig_atomic_t bk_ours, bk_dir_new;

static void backup_cleanup(void)
{
	if (!bk_ours)
		return;
	unlink(bk_partial);
	if (bk_dir_new)
		rmdir(bk_dir); /* fails, as it should, once it holds more */
}

struct backup_watch {
	struct progress p;
	bool bar; /* drawn on a terminal */
};

static void backup_progress(void *arg, uint64_t done, uint64_t total)
{
	struct backup_watch *w = arg;
	bk_ours = 1;
	if (w->bar)
		show_progress(&w->p, done, total);
}

int run_backup(struct cli *c)
{
	const char *dir = c->words[0];
	bool compact = has(c, O_COMPACT);
	tl_backup_info b;
	/* a bar on a terminal: a copy of gigabytes takes a while */
	struct backup_watch w = { .p = { .unit = "MiB", .rate = "MiB/s",
					  .bytes = true },
				  .bar = isatty(STDERR_FILENO) };
	progress_clock(&w.p.start);
	struct stat st;
	bk_ours = 0;
	bk_dir_new = stat(dir, &st) != 0 && errno == ENOENT;
	if ((size_t)snprintf(bk_dir, sizeof bk_dir, "%s", dir) <
		    sizeof bk_dir &&
	    (size_t)snprintf(bk_partial, sizeof bk_partial,
			     "%s/data.mdb.partial", dir) < sizeof bk_partial)
		progress_catch_signals(backup_cleanup);
	int rc = tl_db_backup_progress(c->db, &c->ctx, dir,
				       compact ? TL_BACKUP_COMPACT : 0,
				       backup_progress, &w, &b, &c->err);
	bk_ours = 0; /* removed by a failure; renamed by a success */
	end_progress(&w.p, rc);
	if (rc)
		return rc;
	done_durably = true;
	if (c->json) {
		json_t *o = json_pack("{s:I,s:I,s:I,s:b}",
				      "events", (json_int_t)b.events,
				      "last_seq", (json_int_t)b.last_seq,
				      "bytes", (json_int_t)b.bytes,
				      "compact", compact);
		/* as given (bytes that are not UTF-8 as U+FFFD) */
		json_t *d = o ? mpjson_string(dir, strlen(dir)) : NULL;
		if (!d || json_object_set_new(o, "dir", d)) {
			json_decref(o);
			return cli_oom(c); /* said as done anyway */
		}
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		size_t n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/') /* "b/" names b/data.mdb */
			n--;
		/* in MiB, as stats prints sizes */
		double sz = (double)b.bytes / (1024.0 * 1024.0);
		printf("copied %" PRIu64 " events (up to seq %" PRIu64
		       ") into ", b.events, b.last_seq);
		char shown[PATH_MAX]; /* the engine took it: it fits */
		snprintf(shown, sizeof shown, "%.*s", (int)n, dir);
		put_clean(stdout, shown);
		printf("%sdata.mdb: %.1f MiB\n",
		       !strcmp(shown, "/") ? "" : "/", sz);
	}
	return 0;
}

static void collect_problem(void *arg, const char *problem)
{
	json_array_append_new(arg, mpjson_string(problem, strlen(problem)));
}

/* ---- verify ------------------------------------------------------------- */

struct head {
	bool found;
	uint64_t seq;
	char hash[2 * 32 + 1];
};

static int take_head(void *arg, const tl_event *ev)
{
	struct head *h = arg;
	h->found = true;
	h->seq = ev->seq;
	for (int i = 0; i < 32; i++)
		snprintf(h->hash + 2 * i, 3, "%02x", ev->hash[i]);
	return 1; /* the one event */
}

/* The event at seq (h->found false when there is none); 0 or a code. */
static int event_at(struct cli *c, uint64_t seq, struct head *h)
{
	memset(h, 0, sizeof *h);
	int rc = tl_log_read(c->db, &c->ctx, seq, 1, (tl_slice){ 0 },
			     take_head, h, &c->err);
	if (rc == 1 && h->seq != seq)
		h->found = false; /* a gap: that was the next one */
	return rc == 1 ? 0 : rc;
}

/* "SEQ:HASH" (64 hex digits, either case) into *want. */
static int parse_head(struct cli *c, struct head *want)
{
	const char *v = c->val[O_EXPECT_HEAD], *colon = strchr(v, ':');
	char *end;
	memset(want, 0, sizeof *want);
	errno = 0;
	unsigned long long seq = colon && isdigit((unsigned char)v[0])
					 ? strtoull(v, &end, 10)
					 : 0;
	bool hex = colon && strlen(colon + 1) == 64;
	for (int i = 0; hex && i < 64; i++)
		hex = isxdigit((unsigned char)colon[1 + i]);
	if (!seq || errno || end != colon || !hex)
		return usage_error(c, "expect_head",
				   "give SEQ:HASH as verify printed it (a seq, "
				   "':', 64 hex digits)");
	want->seq = seq;
	for (int i = 0; i < 64; i++)
		want->hash[i] = (char)tolower((unsigned char)colon[1 + i]);
	want->found = true;
	return 0;
}

int run_verify(struct cli *c)
{
	struct head head, want, got;
	tl_stats st;
	int rc;
	if (has(c, O_EXPECT_HEAD) && (rc = parse_head(c, &want)))
		return rc;
	/* The head before the check, which verifies at least up to it (the
	 * log only grows): a stable anchor for the next audit. */
	memset(&head, 0, sizeof head);
	if (((rc = tl_db_stats(c->db, &c->ctx, &st, &c->err)) ||
	     (st.last_seq && (rc = event_at(c, st.last_seq, &head)))) &&
	    strstr(c->err.message, "out of memory"))
		return rc; /* as any read that runs out: said, nothing else */
	if (rc)
		head.found = false; /* verify says what failed */
	memset(&c->err, 0, sizeof c->err);
	c->err.index = -1;

	json_t *problems = json_array();
	if (!problems)
		return cli_oom(c);
	struct verify_bar bar = { 0 };
	int n = tl_verify_progress(c->db, &c->ctx,
				   (has(c, O_NO_VIEWS) ? TL_VERIFY_NO_VIEWS
						       : 0) |
					   (has(c, O_REPLAY) ? TL_VERIFY_REPLAY
							     : 0),
				   collect_problem, problems,
				   isatty(STDERR_FILENO) ? verify_progress
							 : NULL,
				   &bar, &c->err);
	end_verify_progress(&bar, n);

	if (n < 0 && json_array_size(problems) == 0 &&
	    c->err.code != TL_ESTORAGE) {
		json_decref(problems); /* not allowed, ...: not a finding */
		return n;
	}
	if (n >= 0 && has(c, O_EXPECT_HEAD)) {
		char line[256];
		if ((rc = event_at(c, want.seq, &got))) {
			json_decref(problems);
			return rc;
		}
		if (!got.found)
			snprintf(line, sizeof line,
				 "expected head: the log has no event %llu "
				 "(it ends at seq %llu: events were removed, "
				 "or the head given is not one a verify "
				 "printed)",
				 (unsigned long long)want.seq,
				 (unsigned long long)(head.found ? head.seq
								 : 0));
		else if (strcmp(got.hash, want.hash))
			snprintf(line, sizeof line,
				 "expected head: event %llu has hash %s, not "
				 "%s (the log up to it was rewritten)",
				 (unsigned long long)want.seq, got.hash,
				 want.hash);
		if (!got.found || strcmp(got.hash, want.hash)) {
			json_array_append_new(problems, json_string(line));
			n++;
		}
	}
	if (n < 0)
		verify_stopped(c, problems, c->subject);
	json_t *h = NULL;
	if (head.found) {
		h = json_object();
		json_object_set_new(h, "seq", json_integer((json_int_t)head.seq));
		json_object_set_new(h, "hash", json_string(head.hash));
	}
	/* exit 5 comes with an error line, said once the problems are out
	 * (tasklog.c) */
	c->verify_found = n > 0 ? n : 0;
	return print_verdict(c, problems, n == 0, h);
}

/* verify could not finish (the store failed, or it stopped after finding
 * problems): why is its last problem, and the error line on stderr. */
void verify_stopped(struct cli *c, json_t *problems,
			   const char *subject)
{
	char line[sizeof c->err.field + sizeof c->err.message + 32];

	snprintf(line, sizeof line, "%s%s%s%s",
		 json_array_size(problems) ? "verify stopped: " : "",
		 c->err.field[0] ? c->err.field : "",
		 c->err.field[0] ? ": " : "", c->err.message);
	/* the message may quote a path that is not UTF-8: mpjson_string
	 * makes any bytes a JSON string (json_string refused them, and the
	 * only problem went missing: a review) */
	json_array_append_new(problems, mpjson_string(line, strlen(line)));
	error_line(c, subject);
}

/* verify's answer: "ok" when the engine counted no problem (ok), else
 * its problems (as {ok, problems} with --json); takes problems.  Problems
 * are the result: exit 5 with nothing more. */
int print_verdict(struct cli *c, json_t *problems, bool ok,
			 json_t *head)
{
	size_t i;
	json_t *p;

	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_boolean(ok));
		json_object_set(o, "problems", problems);
		if (head)
			json_object_set(o, "head", head);
		mpjson_print(stdout, o);
		json_decref(o);
	} else if (ok && head) {
		/* as --expect-head takes it */
		printf("ok (head %lld:%s)\n",
		       (long long)json_integer_value(json_object_get(head,
								       "seq")),
		       json_string_value(json_object_get(head, "hash")));
	} else if (ok) {
		printf("ok\n");
	} else {
		json_array_foreach(problems, i, p) {
			put_clean(stdout, json_string_value(p));
			putchar('\n');
		}
	}
	json_decref(problems);
	json_decref(head);
	return ok ? 0 : -TL_ESTORAGE;
}

/* " (12.3 MiB)" for people beside a count of bytes. */
static const char *mib(uint64_t bytes, char buf[32])
{
	snprintf(buf, 32, " (%.1f MiB)", (double)bytes / (1024.0 * 1024.0));
	return buf;
}

int run_stats(struct cli *c)
{
	tl_stats s;
	uint64_t file, free_bytes, keys;
	char b1[32], b2[32], b3[32], b4[32];
	int rc = tl_db_stats(c->db, &c->ctx, &s, &c->err);

	if (rc || (rc = tl_db_space(c->db, &c->ctx, &file, &free_bytes,
				    &c->err)) ||
	    (rc = tl_idem_keys(c->db, &c->ctx, &keys, &c->err)))
		return rc;
	if (c->json) {
		json_t *o = json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"events", (json_int_t)s.events,
			"tasks", (json_int_t)s.tasks,
			"active", (json_int_t)s.active,
			"members", (json_int_t)s.members,
			"last_seq", (json_int_t)s.last_seq,
			"map_size", (json_int_t)s.map_size,
			"map_used", (json_int_t)s.map_used,
			"file_size", (json_int_t)file,
			"file_free", (json_int_t)free_bytes,
			"idempotency_keys", (json_int_t)keys);
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		printf("events           %" PRIu64 "\n", s.events);
		printf("tasks            %" PRIu64 "\n", s.tasks);
		printf("active           %" PRIu64 "\n", s.active);
		printf("members          %" PRIu64 "\n", s.members);
		printf("last_seq         %" PRIu64 "\n", s.last_seq);
		printf("map_size         %" PRIu64 "%s\n", s.map_size,
		       mib(s.map_size, b1));
		printf("map_used         %" PRIu64 "%s\n", s.map_used,
		       mib(s.map_used, b2));
		printf("file_size        %" PRIu64 "%s\n", file, mib(file, b3));
		printf("file_free        %" PRIu64 "%s%s\n", free_bytes,
		       mib(free_bytes, b4),
		       free_bytes > file / 4 ? ": backup --compact leaves it "
					       "out"
					     : "");
		printf("idempotency_keys %" PRIu64 "\n", keys);
	}
	return 0;
}

/* ---- idempotency prune -------------------------------------------------- */

int run_idem_prune(struct cli *c)
{
	bool check = has(c, O_CHECK);
	char when[48], local[48];
	int64_t before;
	tl_prune_out o;
	int rc;

	if (!has(c, O_BEFORE))
		return usage_error(c, "before", "is required");
	if ((rc = tl_time_parse(opt_slice(c, O_BEFORE), cli_now(c),
				cli_zone(c), "before", &before, &c->err)))
		return rc;
	if ((rc = tl_idem_prune(c->db, &c->ctx, before, check, &o, &c->err)))
		return rc;
	done_durably = !check;
	tl_time_format(before, when);
	uint64_t kept = o.keys - o.pruned;
	if (c->json) {
		json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:s,s:b}",
				      "keys", (json_int_t)o.keys,
				      "pruned", (json_int_t)o.pruned,
				      "kept", (json_int_t)kept,
				      "unknown", (json_int_t)o.unknown,
				      "before", when, "check", check);
		mpjson_print(stdout, j);
		json_decref(j);
		return 0;
	}
	/* for people in the zone of their dates (UTC where it is unknown) */
	const char *zone = cli_zone(c);
	if (!zone || tl_time_format_zone(before, zone, local))
		snprintf(local, sizeof local, "%s", when);
	printf("%s %" PRIu64 " of %" PRIu64 " idempotency keys (of requests "
	       "made before %s)%s; kept %" PRIu64,
	       check ? "would prune" : "pruned", o.pruned, o.keys, local,
	       check ? ", removed none" : "", kept);
	if (o.unknown)
		printf(", of which %" PRIu64 " of unknown time (requests "
		       "that changed nothing, to a task or member unchanged "
		       "since)",
		       o.unknown);
	putchar('\n');
	return 0;
}
