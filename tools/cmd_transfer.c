/*
 * cmd_transfer.c - export (the log as JSON Lines or msgpack) and import
 * (tasks, or another log's events).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "membuf.h"
#include "progress.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* ---- export -------------------------------------------------------------- */

#define EXPORT_BUF (64 * 1024)

struct exporter {
	char *buf;    /* whole lines not yet written */
	size_t len;
	bool nomem;   /* a document could not be made */
	int werr;     /* a write to the standard output failed: its errno */
	tl_slice actor;         /* filters: p NULL for none */
	int64_t since, until;   /* [since, until) of "at" */
	bool msgpack;           /* the stored records, not JSON lines */
	uint64_t next;          /* the seq after the last one read */
};

/* export --follow: set by SIGINT and SIGTERM (see export_follow). */
static volatile sig_atomic_t follow_stop;

/* What export_event returns when follow_stop is set: the lines printed
 * so far are whole, and the export ends there, exit 0. */
#define EXPORT_STOPPED 2

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static bool export_flush(struct exporter *x)
{
	if (x->len && !x->werr)
		x->werr = write_all(STDOUT_FILENO, x->buf, x->len);
	x->len = 0;
	return !x->werr;
}

/* One line per event, written whole straight to descriptor 1 (past
 * stdio and main's buffer: an export can be far larger than memory
 * should hold), so that whatever stops it, what was printed is whole
 * lines, and an error document (--json) comes after the last. */
static int export_event(void *arg, const tl_event *ev)
{
	struct exporter *x = arg;
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	char *big = NULL;
	size_t n;

	if (follow_stop)
		return EXPORT_STOPPED;
	x->next = ev->seq + 1;
	if (ev->at_ms < x->since || ev->at_ms >= x->until ||
	    (x->actor.p && !(ev->actor_id.len == x->actor.len &&
			     !memcmp(ev->actor_id.p, x->actor.p,
				     x->actor.len))))
		return 0;
	if (x->msgpack) { /* the record as stored: no conversion */
		if (x->len + ev->raw_len > EXPORT_BUF && !export_flush(x))
			return 1;
		if (ev->raw_len > EXPORT_BUF) {
			x->werr = write_all(STDOUT_FILENO,
					    (const char *)ev->raw,
					    ev->raw_len);
			return x->werr ? 1 : 0;
		}
		memcpy(x->buf + x->len, ev->raw, ev->raw_len);
		x->len += ev->raw_len;
		return 0;
	}
	json_t *v = doc_json(ev->raw, ev->raw_len);
	if (!v || mpjson_nomem())
		goto nomem;
	/* room for the line, and one byte for its newline */
	size_t room = x->len < EXPORT_BUF - 1 ? EXPORT_BUF - 1 - x->len : 0;
	n = json_dumpb(v, x->buf + x->len, room, flags);
	if (n && n <= room) {
		x->len += n;
	} else if (n && n < EXPORT_BUF && export_flush(x)) {
		x->len = json_dumpb(v, x->buf, EXPORT_BUF - 1, flags);
	} else if (n && !x->werr) { /* longer than the buffer */
		if (!export_flush(x) || !(big = malloc(n + 1)) ||
		    json_dumpb(v, big, n, flags) != n) {
			free(big);
			goto nomem;
		}
		big[n] = '\n';
		x->werr = write_all(STDOUT_FILENO, big, n + 1);
		free(big);
	}
	if (!n || mpjson_nomem() || x->werr) /* jansson's dump allocates */
		goto nomem;
	if (x->len)
		x->buf[x->len++] = '\n';
	json_decref(v);
	return 0;
nomem:
	x->nomem = !x->werr && (v ? true : doc_nomem);
	json_decref(v);
	return 1;
}

/* --follow: after the log as it was, each commit's events as it is made.
 * The command wakes when data.mdb is written (inotify: a commit writes
 * its pages, then its meta page), at the latest every FOLLOW_WAIT_MS
 * (and polls at that pace where inotify cannot watch the file), reads
 * from the seq after the last one it read in a new read transaction
 * (none is held between reads, so the file does not grow for it), and
 * prints what passes the filters.  SIGINT and SIGTERM end it, from the
 * snapshot on, between two events, the lines printed whole, exit 0 (a
 * second one has its default action: a follower blocked on a pipe that
 * nobody drains ends at once then); so does a reader of its pipe that
 * went away, whether a write finds it (EPIPE: SIGPIPE is ignored) or,
 * while no event comes, the pipe's POLLERR. */
#define FOLLOW_WAIT_MS 1000

static void follow_signal(int sig)
{
	(void)sig;
	follow_stop = 1;
}

static void follow_signals(void)
{
	struct sigaction sa = { .sa_handler = follow_signal,
				.sa_flags = SA_RESETHAND };
	sigemptyset(&sa.sa_mask); /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Whether a follower's read ended it cleanly: stopped by a signal, or
 * its reader gone.  Clears what says so. */
static bool follow_ended(struct exporter *x, int *rc)
{
	if (*rc == EXPORT_STOPPED || x->werr == EPIPE) {
		*rc = 0;
		x->werr = 0;
		return true;
	}
	return false;
}

static int export_follow(struct cli *c, struct exporter *x)
{
	/* --stream as the end of a task id: resolved once, to the task's
	 * whole id, or a task added later whose id ends alike would make
	 * the next read ambiguous (a walk-through: exit 1 then).  A whole
	 * id, member:ID or workspace stays as given. */
	tl_slice stream = opt_slice(c, O_STREAM);
	char whole[37];
	uint8_t *doc;
	size_t len;
	tl_err e;
	if (stream.p && stream.len < 36 &&
	    !tl_task_get(c->db, &c->ctx, stream, &doc, &len, &e)) {
		json_t *t = mpjson_from_doc(doc, len);
		const char *id = json_string_value(json_object_get(t, "id"));
		if (id && strlen(id) == 36) {
			memcpy(whole, id, 37);
			stream = (tl_slice){ whole, 36 };
		}
		json_decref(t);
		free(doc);
	}
	char path[PATH_MAX];
	int ifd = -1;
	if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", c->dir) <
	    sizeof path)
		ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd >= 0 && inotify_add_watch(ifd, path, IN_MODIFY) < 0) {
		close(ifd);
		ifd = -1;
	}
	int rc = 0;
	while (!follow_stop) {
		struct pollfd p[2] = { { STDOUT_FILENO, 0, 0 },
				       { ifd, POLLIN, 0 } };
		int k = poll(p, ifd >= 0 ? 2 : 1, FOLLOW_WAIT_MS);
		if (follow_stop)
			break;
		if (k > 0 && (p[0].revents & (POLLERR | POLLHUP)))
			break; /* nobody reads what follows */
		if (k > 0 && (p[1].revents & POLLIN)) {
			char ev[4096];
			while (read(ifd, ev, sizeof ev) > 0)
				;
		}
		rc = tl_log_read(c->db, &c->ctx, x->next, 0, stream,
				 export_event, x, &c->err);
		export_flush(x);
		if (follow_ended(x, &rc) || rc || x->werr)
			break;
	}
	if (ifd >= 0)
		close(ifd);
	return rc;
}

int run_export(struct cli *c)
{
	char x_shown[224]; /* a quoted text, cut (cut_arg) */
	struct exporter x = { .since = INT64_MIN, .until = INT64_MAX,
			      .next = c->from ? c->from : 1 };
	int rc;

	if (has(c, O_SINCE) &&
	    (rc = tl_time_parse(opt_slice(c, O_SINCE), cli_now(c),
				cli_zone(c), "since", &x.since, &c->err)))
		return rc;
	if (has(c, O_UNTIL) &&
	    (rc = tl_time_parse(opt_slice(c, O_UNTIL), cli_now(c),
				cli_zone(c), "until", &x.until, &c->err)))
		return rc;
	if (has(c, O_SINCE) && has(c, O_UNTIL) && x.until <= x.since)
		return usage_error(c, "until", "must be after --since");
	x.msgpack = c->msgpack;

	if (x.msgpack && isatty(STDOUT_FILENO))
		return usage_error(c, "format",
				   "msgpack is binary: redirect the standard "
				   "output to a file or a pipe");
	x.actor = opt_slice(c, O_ACTOR);
	if (x.actor.p && !tl_member_id_valid(x.actor) &&
	    strcmp(x.actor.p, TL_SYSTEM_USER))
		return usage_error(c, "actor", "not a member id: '%s'",
				   cut_arg(x.actor.p, 64, x_shown,
					   sizeof x_shown));
	char me[65]; /* a member id: 64 bytes at most */
	if (x.actor.p) {
		/* Arguments first, then this look-up ("me": the acting
		 * member).  Members are never removed: every actor of the
		 * log is one. */
		uint8_t *doc;
		size_t len;
		rc = tl_member_get(c->db, &c->ctx, x.actor, &doc, &len,
				   &c->err);
		if (rc == TL_ENOTFOUND)
			return tl_err_set(&c->err, TL_EINVALID, "actor",
					  "no member '%s'", c->val[O_ACTOR]);
		if (rc)
			return rc;
		json_t *m = mpjson_from_doc(doc, len);
		const char *id = json_string_value(json_object_get(m, "id"));
		snprintf(me, sizeof me, "%s", id ? id : "");
		json_decref(m);
		free(doc);
		if (!me[0])
			return cli_oom(c);
		x.actor = tl_s(me);
	}
	x.buf = malloc(EXPORT_BUF);
	if (!stdout_open) {
		free(x.buf);
		return tl_err_set(&c->err, TL_ESTORAGE, "",
				  "the standard output is closed");
	}
	if (!x.buf)
		return cli_oom(c);
	bool follow = has(c, O_FOLLOW);
	if (follow)
		follow_signals();
	rc = tl_log_read(c->db, &c->ctx, c->from, 0, opt_slice(c, O_STREAM),
			 export_event, &x, &c->err);
	export_flush(&x); /* whole lines, also before an error */
	if (follow && !follow_ended(&x, &rc) && !rc && !x.werr)
		rc = export_follow(c, &x);
	free(x.buf);
	if (x.werr) {
		/* The read may have failed too (a damaged page after what
		 * the last flush held): say both. */
		char read_err[sizeof c->err.message] = "";
		if (rc && rc != 1 && rc != EXPORT_STOPPED) {
			/* at most 200 bytes of it, with "...", at a
			 * character's start and not inside an escape \xNN
			 * of it (the message is clean UTF-8 already; quoted
			 * again, its escapes would be escaped again) */
			const char *m = c->err.message;
			char said[204];
			size_t n = strlen(m);
			bool cut = n > 200;
			if (cut) {
				for (n = 200; n && ((unsigned char)m[n] & 0xc0) ==
							   0x80;)
					n--;
				for (size_t k = 1; k <= 3 && k <= n; k++)
					if (m[n - k] == '\\') {
						n -= k;
						break;
					}
			}
			memcpy(said, m, n);
			memcpy(said + n, cut ? "..." : "", cut ? 4 : 1);
			snprintf(read_err, sizeof read_err,
				 " (and reading the log: %s)", said);
		}
		stdout_failed = true;
		return tl_err_set(&c->err, TL_ESTORAGE, "",
				  "writing the standard output: %s%s",
				  strerror(x.werr), read_err);
	}
	if (rc == 1) /* the callback stopped: a record not converted */
		return x.nomem ? cli_oom(c) : collect_failed(c);
	return rc;
}

/* ---- import -------------------------------------------------------------- */

/* --format, --batch and the whole input into c->input. */
int import_read(struct cli *c)
{
	char shown[224]; /* the path, cut (cut_arg) */
	const char *path = c->words[0];
	size_t cap = 0;
	int fd, rc = 0;

	if (!strcmp(path, "-")) {
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int e = errno;
		return usage_error(c, "file", "cannot open '%s': %s",
				   cut_arg(path, 200, shown, sizeof shown),
				   strerror(e));
	} else {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return usage_error(c, "file", "'%s' is a directory",
					   cut_arg(path, 200, shown,
						   sizeof shown));
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			cap = (size_t)st.st_size + 1;
	}
	for (;;) {
		if (!c->input || c->input_len == cap) {
			/* a regular file's size and one byte to see its end */
			size_t ncap = !c->input && cap ? cap
				      : cap < 65536 ? 65536
						    : 2 * cap;
			uint8_t *p = realloc(c->input, ncap);
			if (!p) {
				rc = cli_oom(c);
				break;
			}
			c->input = p;
			cap = ncap;
		}
		ssize_t k = read(fd, c->input + c->input_len,
				 cap - c->input_len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			rc = tl_err_set(&c->err, TL_ESTORAGE, "file",
					"reading '%s': %s",
					cut_arg(path, 200, shown, sizeof shown),
					strerror(e));
			break;
		}
		if (k == 0)
			break;
		c->input_len += (size_t)k;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

struct import_say {
	struct cli *c;
	bool events, check;
	char *text; /* what to print once the import is durable */
	size_t len;
};

/* "task" or "tasks", for n of them (word: a literal). */
#define NOUN(n, word) ((n) == 1 ? word : word "s")

/* "seq 3..4" of an import's events into buf; batches (--batch) that
 * other writers' commits came between span more seqs than the import
 * appended, which is said (snprintf alone: parse_nomem uses it). */
static void import_seqs(char *buf, size_t len, const import_out *r)
{
	snprintf(buf, len, "seq %" PRIu64 "..%" PRIu64 "%s", r->first_seq,
		 r->last_seq,
		 r->last_seq - r->first_seq + 1 > r->events
			 ? ", with other writers' events between its batches"
			 : "");
}

/* Before the last commit: the outcome, rendered (an allocation that
 * fails now gives the import up; after the commit nothing may). */
static int import_ready(void *arg, const import_out *r, tl_err *err)
{
	struct import_say *say = arg;
	char seqs[96];
	membuf m;
	import_seqs(seqs, sizeof seqs, r);
	FILE *f = membuf_open(&m);
	if (!f)
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	if (say->check && !say->c->json) {
		fprintf(f, "checked %" PRIu64 " %s: ", r->records,
			NOUN(r->records, "record"));
		if (r->events)
			fprintf(f, "an import would append %" PRIu64
				   " %s (%s); nothing appended\n",
				r->events, NOUN(r->events, "event"), seqs);
		else
			fputs("an import would append nothing; nothing "
			      "appended\n",
			      f);
	} else if (say->c->json) {
		json_t *v = json_object();
		json_object_set_new(v, say->check ? "checked" : "imported",
				    json_integer((json_int_t)r->records));
		if (say->check)
			json_object_set_new(v, "appended", json_false());
		json_object_set_new(v, "events",
				    json_integer((json_int_t)r->events));
		if (!say->events)
			json_object_set_new(v, "commands",
					    json_integer((json_int_t)
								 r->commands));
		json_object_set_new(v, "first_seq",
				    r->events ? json_integer((json_int_t)
								     r->first_seq)
					      : json_null());
		json_object_set_new(v, "last_seq",
				    r->events ? json_integer((json_int_t)
								     r->last_seq)
					      : json_null());
		if (!v || mpjson_nomem() || mpjson_print(f, v))
			fputs("\x01", f); /* not whole: below */
		json_decref(v);
	} else if (r->events && say->events) {
		fprintf(f, "imported %" PRIu64 " %s: %s\n", r->events,
			NOUN(r->events, "event"), seqs);
	} else if (r->commands) {
		uint64_t tasks = r->records - r->commands;
		fprintf(f, "imported %" PRIu64 " %s (%" PRIu64 " %s, %" PRIu64
			   " %s): ",
			r->records, NOUN(r->records, "record"), tasks,
			NOUN(tasks, "task"), r->commands,
			NOUN(r->commands, "command"));
		if (r->events)
			fprintf(f, "%" PRIu64 " %s, %s\n", r->events,
				NOUN(r->events, "event"), seqs);
		else
			fputs("nothing appended (repeats of idempotency "
			      "keys, or no changes)\n", f);
	} else if (r->events) {
		fprintf(f, "imported %" PRIu64 " %s: %" PRIu64 " %s, %s\n",
			r->records, NOUN(r->records, "task"), r->events,
			NOUN(r->events, "event"), seqs);
	} else {
		fprintf(f, "imported %" PRIu64 " %s: nothing appended%s\n",
			r->records,
			say->events ? NOUN(r->records, "event")
				    : NOUN(r->records, "task"),
			r->records ? " (each a repeat of an idempotency key)"
				   : "");
	}
	if (!membuf_close(f, &m) || mpjson_nomem() || !m.p ||
	    strchr(m.p, '\x01')) {
		free(m.p);
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	}
	free(say->text);
	say->text = m.p;
	say->len = m.len;
	return 0;
}

/* What an import has committed so far, and what it reads, for
 * parse_nomem. */
const import_out *import_progress;
const char *import_unit = "line";

/* " (the 2 records before its batch were imported: seq 3..4)": what a
 * failed import's earlier batches made durable, into buf (snprintf's
 * allocation-free formats alone: parse_nomem uses it). */
void batches_before(char *buf, size_t len, const import_out *r)
{
	int n = snprintf(buf, len, " (the %" PRIu64 " %s before its batch %s "
				   "imported",
			 r->committed, NOUN(r->committed, "record"),
			 r->committed == 1 ? "was" : "were");
	if (n < 0 || (size_t)n >= len)
		return;
	if (r->events) {
		char seqs[96];
		import_seqs(seqs, sizeof seqs, r);
		snprintf(buf + n, len - (size_t)n, ": %s)", seqs);
	} else
		snprintf(buf + n, len - (size_t)n, ")");
}

/* The error of an import: the record it names, and what batches before
 * it made durable, in the error document too. */
static int import_failed(struct cli *c, const import_opts *o,
			 const import_out *r, int rc)
{
	mpjson_nomem_clear();
	membuf_nomem_clear();
	const char *unit = o->msgpack ? "record" : "line";
	if (r->where || r->committed)
		c->err_more = json_object();
	if (r->where)
		json_object_set_new(c->err_more, unit,
				    json_integer((json_int_t)r->where));
	if (r->committed) {
		/* what the batches before the failure made durable */
		size_t n = strlen(c->err.message);
		batches_before(c->err.message + n, sizeof c->err.message - n,
			       r);
		json_object_set_new(c->err_more, "imported",
				    json_integer((json_int_t)r->committed));
	}
	return rc;
}

int import_precheck(struct cli *c)
{
	import_opts o = { .events = has(c, O_EVENTS), .msgpack = c->msgpack,
			  .fresh = true };
	import_out r;
	import_unit = o.msgpack ? "record" : "line";
	int rc = import_prepare(c->input, c->input_len, &o, &r, &c->prepared,
				&c->err);
	return rc ? import_failed(c, &o, &r, rc) : 0;
}

/* An import in batches that a signal (Ctrl-C, SIGTERM, SIGHUP) ends:
 * the batch running is committed, no other begins, and the command says
 * what was imported before it dies of the signal (since 0.3.54; before,
 * it died at once, saying nothing of the batches already durable).  A
 * second signal ends it at once, as before. */
static volatile sig_atomic_t import_signal;

static void import_stop(int sig)
{
	if (import_signal) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	import_signal = sig;
}

static void catch_import_stops(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	catch_where_default(sigs, sizeof sigs / sizeof sigs[0], import_stop);
}

int run_import(struct cli *c)
{
	struct import_say say = { .c = c, .events = has(c, O_EVENTS),
				  .check = has(c, O_CHECK) };
	import_opts o = { .events = has(c, O_EVENTS),
			  .msgpack = c->msgpack,
			  .batch = c->batch,
			  .check = has(c, O_CHECK),
			  .ctx = &c->ctx,
			  .ready = import_ready,
			  .arg = &say };
	import_out r = { 0 };
	int rc;

	/* Imports are maintenance, an admin's job (SPEC §1), once the
	 * workspace has members (a new one takes its own from the log):
	 * import_run checks it once the records' form is checked. */
	o.need_admin = c->has_settings;
	o.fresh = !c->has_settings;
	/* A bar on a terminal, as rebuild's: a large import takes a while,
	 * and after its records the last commit writes the views (about a
	 * fifth of it), then syncs. */
	struct import_bar bar;
	import_bar_start(&bar, o.check);
	if (isatty(STDERR_FILENO)) {
		o.progress = import_records;
		o.commit_progress = import_views;
		o.progress_arg = &bar;
	}
	import_progress = &r;
	import_unit = o.msgpack ? "record" : "line";
	if (o.batch && !o.check) {
		catch_import_stops();
		o.stop = &import_signal;
	}
	rc = c->prepared ? import_run_job(c->db, c->prepared, &o, &r, &c->err)
			 : import_run(c->db, c->input, c->input_len, &o, &r,
				      &c->err);
	import_progress = NULL;
	bool stopped = !rc && import_signal && r.committed < r.records;
	bar.bytes = rc ? 0 : r.views_bytes; /* every commit's */
	end_import_progress(&bar, rc || stopped);
	if (stopped) {
		char seqs[96] = "nothing appended";
		if (r.events)
			import_seqs(seqs, sizeof seqs, &r);
		if (r.committed)
			fprintf(stderr,
				"tasklog: import: stopped by signal %d after "
				"the batch it was running: %" PRIu64 " of %"
				PRIu64 " records imported (%s); the rest is "
				"not\n",
				(int)import_signal, r.committed, r.records,
				seqs);
		else
			fprintf(stderr,
				"tasklog: import: stopped by signal %d before "
				"its first batch: none of %" PRIu64 " records "
				"imported\n",
				(int)import_signal, r.records);
		fflush(stderr);
		free(say.text);
		int sig = (int)import_signal;
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig); /* (a signal that cannot kill) */
	}
	if (rc) {
		/* What import_ready built is gone: a failure of its
		 * allocations (the error now said) taints nothing printed
		 * after. */
		free(say.text);
		return import_failed(c, &o, &r, rc);
	}
	/* A check made nothing durable: its answer goes out as a read's,
	 * through main's buffer, and one that cannot be written is an
	 * error (exit 5), not "done, but". */
	if (o.check) {
		if (say.len)
			fwrite(say.text, 1, say.len, stdout);
		free(say.text);
		return 0;
	}
	/* Durable now: straight out, past main's buffer, whose growth
	 * could fail (as exec_one does). */
	done_durably = true;
	if (say.len && !stdout_open)
		say_done_anyway("the standard output is closed");
	else if (say.len && (fwrite(say.text, 1, say.len, real_stdout) !=
				     say.len ||
			     fflush(real_stdout)))
		say_done_anyway(strerror(errno));
	free(say.text);
	return 0;
}
