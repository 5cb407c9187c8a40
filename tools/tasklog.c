/*
 * tasklog.c - the `tasklog` command line: main, the parsing of its
 * words and options, errors, and the opening of the workspace.
 *
 * A small main over the library: it parses the command words and options,
 * hands the option text unchanged to the engine (which validates and parses
 * every field), and prints the result as JSON (--json) or for people.  The
 * only checks made here are about usage: unknown options, missing values,
 * the number of words, and the numbers of --limit, --from, --days and
 * --expect-version.  The commands themselves are in cmd_*.c, their table
 * in commands.c.
 *
 * Exit status is -code of the failing tl_err (0 success, 1 invalid, 2 not
 * found, 3 conflict, 4 forbidden, 5 storage); see docs/cli.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <locale.h>

#include "cli.h"
#include "membuf.h"
#include "progress.h"
#include "tasklog_projections.h"
#include "tasklog_view.h" /* tl_member_id_valid */

/* ---- errors --------------------------------------------------------------- */

/* The one line on stderr of an error: "tasklog: FIELD: message", or the
 * subject when the error names no field. */
void error_line(const struct cli *c, const char *subject)
{
	const tl_err *e = &c->err;
	const char *code = tl_code_name(e->code);

	fputs("tasklog: ", stderr);
	put_clean(stderr, e->field[0] ? e->field
			  : subject && subject[0] ? subject : "tasklog");
	fputs(": ", stderr);
	put_clean(stderr, e->message[0] ? e->message : code ? code : "failed");
	fputc('\n', stderr);
}

/* Print c->err: the line on stderr, and with --json also as a document
 * on stdout.  Returns the exit status. */
int report_error(struct cli *c, const char *subject)
{
	tl_err *e = &c->err;
	const char *code = tl_code_name(e->code);

	/* The acting member was refused without --as: say who that was. */
	if (e->code == TL_EFORBIDDEN && !strcmp(e->field, "as") &&
	    !c->val[O_AS]) {
		size_t n = strlen(e->message);
		snprintf(e->message + n, sizeof e->message - n,
			 " (without --as you act as the workspace's first "
			 "admin; give --as MEMBER)");
	}
	int status = e->code <= TL_EINVALID && e->code >= TL_EUNAVAILABLE
			     ? -e->code
			     : e->code ? -TL_ESTORAGE : 1;

	error_line(c, subject);

	if (c->json) {
		json_t *o = json_object(), *inner = json_object();
		json_object_set_new(inner, "code",
				    json_string(code ? code : "invalid"));
		json_object_set_new(inner, "message",
				    mpjson_string(e->message,
						  strlen(e->message)));
		json_object_set_new(inner, "field",
				    e->field[0] ? mpjson_string(e->field,
								strlen(e->field))
						: json_null());
		if (c->err_more)
			json_object_update(inner, c->err_more);
		json_object_set_new(o, "error", inner);
		mpjson_print(stdout, o);
		json_decref(o);
	}
	return status;
}

const char *cut_arg(const char *s, size_t max, char *buf, size_t cap)
{
	return tl_quote_max(tl_s(s), max, buf, cap);
}

int usage_error(struct cli *c, const char *field, const char *fmt, ...)
{
	va_list ap;

	c->err.code = TL_EINVALID;
	c->err.index = -1;
	snprintf(c->err.field, sizeof c->err.field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(c->err.message, sizeof c->err.message, fmt, ap);
	va_end(ap);
	return TL_EINVALID;
}

/* ---- small helpers -------------------------------------------------------- */

tl_slice opt_slice(const struct cli *c, enum opt o)
{
	return tl_s(c->val[o]);
}

bool has(const struct cli *c, enum opt o)
{
	return c->val[o] != NULL;
}

/* The --tag values as slices (malloc'd, at least one entry), or NULL. */
tl_slice *tag_slices(const struct cli *c)
{
	tl_slice *t = calloc(c->tags_len ? c->tags_len : 1, sizeof *t);
	for (size_t i = 0; t && i < c->tags_len; i++)
		t[i] = tl_s(c->tags[i]);
	return t;
}

int parse_number(struct cli *c, enum opt o, uint64_t *out)
{
	const char *s = c->val[o];
	char name[40];
	char *end;

	/* The field as the engine names it: the option, dashes as
	 * underscores. */
	snprintf(name, sizeof name, "%s", optdefs[o].name);
	for (char *p = name; *p; p++)
		if (*p == '-')
			*p = '_';
	char b[64];
	if (!s[0] || strspn(s, "0123456789") != strlen(s))
		return usage_error(c, name, "not a number: '%s'",
				   cut_arg(s, 40, b, sizeof b));
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return usage_error(c, name, "number too large: '%s'",
				   cut_arg(s, 40, b, sizeof b));
	return 0;
}

/* Set when a document could not be converted for want of memory: the
 * failure is then not the document's. */
bool doc_nomem;

/* The process's stdout, while main keeps what a command prints in
 * memory. */
FILE *real_stdout;
/* Set once the command's work is durable (an event appended, a workspace
 * initialised, views rebuilt): a command that fails must have changed
 * nothing, so what fails after this (printing its result) is said on
 * stderr, and the exit status stays 0. */
volatile sig_atomic_t done_durably; /* read by on_fatal too */
/* False when the caller closed descriptor 1 (it is /dev/null now). */
bool stdout_open = true;
bool stdout_failed;

/* All of s to descriptor fd, with write(2) alone (signal handlers use
 * it too); a write that fails ends it. */
void put_fd(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The line "head" "why" "\n" to fd in one write(2) when it fits 1 KiB
 * (so that it does not mix with other processes' lines), with write(2)
 * alone. */
void put_line_fd(int fd, const char *head, const char *why)
{
	char line[1024];
	size_t h = strlen(head), w = strlen(why);
	if (h + w + 2 > sizeof line) {
		put_fd(fd, head);
		put_fd(fd, why);
		put_fd(fd, "\n");
		return;
	}
	memcpy(line, head, h);
	memcpy(line + h, why, w);
	line[h + w] = '\n';
	line[h + w + 1] = 0;
	put_fd(fd, line);
}

/* Once a process: the first reason is the one said.  With write(2)
 * alone: on_fatal says it too. */
void say_done_anyway(const char *why)
{
	static volatile sig_atomic_t said;
	if (said)
		return;
	said = 1;
	put_line_fd(STDERR_FILENO,
		    "tasklog: done, but its result could not be printed: ",
		    why);
}

int cli_oom(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, "storage", "out of memory");
}

json_t *doc_json(const uint8_t *doc, size_t len)
{
	json_t *v = mpjson_from_doc(doc, len);
	if (!v && (errno == ENOMEM || mpjson_nomem()))
		doc_nomem = true;
	return v;
}

/* A document that could not be converted: for want of memory, or it is
 * no document. */
int collect_failed(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, "storage", "%s",
			  doc_nomem ? "out of memory"
				    : "undecodable record (damage: tasklog "
				      "verify names it; a view's is repaired "
				      "by tasklog rebuild)");
}

/* ---- the workspace ---------------------------------------------------------- */

/* False when dir exists but holds no LMDB data file, or an empty one (an
 * init that failed, on a full disk say): opening it would create, or
 * write, one.  *empty says which.  A missing dir is left to the engine to
 * report. */
static bool workspace_files(const char *dir, bool *empty)
{
	char path[PATH_MAX];
	struct stat st;
	*empty = false;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return true;
	if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
		return true;
	if (stat(path, &st) != 0) /* not there; another failure: the open's */
		return errno != ENOENT && errno != ENOTDIR;
	*empty = S_ISREG(st.st_mode) && st.st_size == 0;
	return !*empty;
}

/* import --events: the log it appends may be a whole one, which makes
 * a new workspace (its first event holds the settings). */
static bool import_events(const struct cli *c)
{
	return c->cmd->open == OPEN_IMPORT && has(c, O_EVENTS);
}

/* --db, $TASKLOG_DB or the default, into c->dir; an error when the
 * command needs a workspace there and there is none (only init and
 * import --events make one). */
static int workspace_there(struct cli *c)
{
	const char *env = getenv("TASKLOG_DB");
	bool empty;
	c->dir = has(c, O_DB) ? c->val[O_DB]
				: env && env[0] ? env : DEFAULT_DB;
	/* Where no member may exist yet to check --as against, its form
	 * at least (every other command's engine checks it). */
	if ((c->cmd->open == OPEN_CREATE || import_events(c)) &&
	    has(c, O_AS) && !tl_member_id_valid(opt_slice(c, O_AS))) {
		char q[64];
		return tl_err_set(&c->err, TL_EINVALID, "as",
				  "'%s' is not a member id",
				  tl_quote(opt_slice(c, O_AS), q, sizeof q));
	}
	/* import --check appends nothing, so makes no workspace: it needs
	 * one, as import of tasks does */
	if (c->cmd->open == OPEN_CREATE ||
	    (import_events(c) && !has(c, O_CHECK)))
		return 0;
	/* import reads its input before it opens the workspace (the map is
	 * sized for it): a missing directory is said first, as the open
	 * would say it */
	struct stat st;
	if (c->cmd->open == OPEN_IMPORT && stat(c->dir, &st) != 0 &&
	    errno == ENOENT)
		return tl_err_set(&c->err, TL_ENOTFOUND, "db",
				  "workspace '%s': %s", c->dir,
				  strerror(ENOENT));
	if (workspace_files(c->dir, &empty))
		return 0;
	if (import_events(c)) /* --check: a new workspace is not made */
		return tl_err_set(&c->err, TL_ENOTFOUND, "db",
				  "'%s' is no workspace: import --check runs "
				  "the records against one, and makes none "
				  "(a whole log checks by its import into a "
				  "new directory)",
				  c->dir);
	/* For an auditor an empty data file is a finding (a failed init, or
	 * a restore that went wrong), not "no workspace here". */
	if (empty && c->cmd->run == run_verify)
		return tl_err_set(&c->err, TL_ESTORAGE, "storage",
				  "data.mdb is empty (0 bytes): an init that "
				  "failed, or a damaged copy or restore");
	return tl_err_set(&c->err, TL_ENOTFOUND, "db",
			  "workspace '%s' is not initialised (%srun "
			  "`tasklog init`)",
			  c->dir,
			  empty ? "its data.mdb is empty: an init that "
				  "failed, or a damaged copy? "
				: "");
}

/* Whether a writable open of dir would make a workspace's files there:
 * a dir that is missing (made), or holds no data file or an empty one. */
static bool makes_workspace(const char *dir)
{
	struct stat st;
	bool empty;
	if (stat(dir, &st) != 0)
		return errno == ENOENT;
	return !workspace_files(dir, &empty);
}

int open_workspace(struct cli *c)
{
	tl_open_opts oo = { 0 };
	const char *zone;
	bool fallback = false; /* opened without the views (OPEN_LOG) */
	int rc;

	/* Arguments before anything is opened: --tz for every command,
	 * init's options, and no other command creates a workspace's
	 * files. */
	char cut[88];
	if (has(c, O_TZ) && !tl_tz_valid(c->val[O_TZ]))
		return tl_err_set(&c->err, TL_EINVALID, "tz",
				  "unknown time zone '%s'",
				  cut_arg(c->val[O_TZ], 64, cut, sizeof cut));
	if (c->cmd->open == OPEN_CREATE) {
		tl_init_opts io = { .tz = c->val[O_TZ],
				    .week_start = c->val[O_WEEK_START],
				    .admin = c->val[O_ADMIN] };
		int64_t now;
		if ((rc = tl_init_check(&io, &c->err)) ||
		    (has(c, O_NOW) &&
		     (rc = tl_time_parse(opt_slice(c, O_NOW), tl_time_now(),
					 c->val[O_TZ], "now", &now,
					 &c->err))))
			return rc;
		if (has(c, O_NOW) && now == 0)
			return tl_err_set(&c->err, TL_EINVALID, "now",
					  "must be after "
					  "1970-01-01T00:00:00.000Z");
	}
	if ((rc = workspace_there(c)))
		return rc;
	/* Reads open read-write too: LMDB readers never block a writer in
	 * another process either way, and an uninitialised directory then
	 * gets the message below instead of a file system error. */
	oo.flags = c->cmd->open == OPEN_CREATE || import_events(c)
			   ? TL_OPEN_CREATE
			   : 0;
	/* Reads work where the files cannot be written (an auditor's
	 * access, a read-only file system): LMDB then needs only lock.mdb
	 * writable, or nothing on a read-only file system. */
	bool reads = c->cmd->open == OPEN_READ || c->cmd->open == OPEN_LOG ||
		     (c->cmd->run == run_notifications && !c->words_len) ||
		     (c->cmd->run == run_idem_prune && has(c, O_CHECK));
	if (reads)
		oo.flags |= TL_OPEN_READ_FALLBACK;
	/* Every view, always: the engine applies to the views a workspace
	 * is opened with, so a writer that left one out would leave it
	 * behind the log. */
	oo.views = tl_views_all(&oo.views_len);
	/* (An import makes the map's room for each batch as it runs it,
	 * past the pages in use: tools/import.c, tl_db_reserve.) */
	/* After an upgrade that changed a view, the first open rebuilds it
	 * from the log: said on a terminal, with a bar. */
	struct rebuild_bar bar = { .open = true };
	rc = tl_db_open_steps(c->dir, &oo,
			      isatty(STDERR_FILENO) ? rebuild_progress : NULL,
			      &bar, &c->db, &c->err);
	end_rebuild_progress(&bar, rc);
	if (rc == TL_ESTORAGE && reads) {
		/* The views could not be brought up to date (a damaged log
		 * stops the rebuild an open runs, or one view fails it): read
		 * the log as it is, so that verify can say what is wrong with
		 * it, and answer from the views that are current (a read-only
		 * handle serves no other).  Said only when that works:
		 * otherwise the store itself failed, and its error is the
		 * one line. */
		tl_err first = c->err;
		oo.flags = TL_OPEN_RDONLY;
		fallback = true;
		rc = tl_db_open(c->dir, &oo, &c->db, &c->err);
		if (!rc) {
			/* the first open brings the views up to date: that,
			 * or the store itself, failed */
			fputs("tasklog: opening the workspace for writing "
			      "failed: ",
			      stderr);
			put_clean(stderr, first.message);
			fputs(c->cmd->open == OPEN_LOG
				      ? "; reading the log read-only, "
					"without the views\n"
				      : "; answering read-only, from the views "
					"that are current\n",
			      stderr);
		}
	}
	if (rc)
		return rc;
	if (!fallback && c->cmd->run == run_verify && !has(c, O_NO_VIEWS) &&
	    tl_db_read_only(c->db))
		fputs("tasklog: the workspace's files cannot be written here: "
		      "opened read-only, the views cannot be compared "
		      "(verify --no-views checks the rest alone)\n",
		      stderr);
	/* Views a read-only handle cannot bring up to date fail the
	 * queries that read them, each saying so (tl_view_unavailable);
	 * the other commands answer as usual, with nothing said. */
	/* Not tl_db_initialized(), which cannot tell a read that failed
	 * (out of memory) from a workspace without settings. */
	rc = tl_db_settings(c->db, &c->settings, &c->err);
	if (rc == 0) {
		c->has_settings = true;
	} else if (rc != TL_ENOTFOUND) {
		return rc;
	} else if (import_events(c) && has(c, O_CHECK)) {
		/* files without settings (an import into a new directory
		 * that failed): no workspace to check against, as above */
		return tl_err_set(&c->err, TL_ENOTFOUND, "db",
				  "'%s' is no workspace (its files hold no "
				  "settings): import --check runs the records "
				  "against one, and makes none",
				  c->dir);
	} else if (c->cmd->open != OPEN_CREATE && !import_events(c)) {
		/* As the engine answers for a missing directory. */
		return tl_err_set(&c->err, TL_ENOTFOUND, "db",
				  "workspace '%s' is not initialised (run "
				  "`tasklog init`)",
				  c->dir);
	}
	rc = 0;

	c->ctx.actor = c->val[O_AS];
	c->ctx.tz = c->val[O_TZ];
	zone = c->val[O_TZ] ? c->val[O_TZ]
	       : c->has_settings ? c->settings.tz : NULL;
	if (!c->json) {
		/* Read the zone now, so that printing cannot fail.  A stored
		 * zone this host lacks (--tz is checked with the options):
		 * times for people in UTC, as their headings then say. */
		char when[48];
		rc = tl_time_format_zone(0, zone, when);
		if (rc == TL_ESTORAGE)
			return cli_oom(c);
		if (rc) {
			fputs("tasklog: times in UTC: the workspace's time "
			      "zone '", stderr);
			put_clean(stderr, zone);
			fputs("' is not in this host's time-zone database\n",
			      stderr);
			zone = NULL;
		}
		human_zone(zone);
		rc = 0;
	}
	if (has(c, O_NOW)) {
		zone = c->val[O_TZ] ? c->val[O_TZ]
		       : c->has_settings ? c->settings.tz : NULL;
		rc = tl_time_parse(opt_slice(c, O_NOW), tl_time_now(), zone,
				   "now", &c->ctx.now_ms, &c->err);
		if (rc)
			return rc;
		/* 0 is the engine's "the wall clock" (tl_ctx.now_ms) */
		if (c->ctx.now_ms == 0)
			return tl_err_set(&c->err, TL_EINVALID, "now",
					  "must be after "
					  "1970-01-01T00:00:00.000Z");
	}
	return 0;
}

/* The zone that dates given to the CLI itself (--as-of) are read in. */
const char *cli_zone(const struct cli *c)
{
	if (c->val[O_TZ])
		return c->val[O_TZ];
	return c->has_settings ? c->settings.tz : NULL;
}

int64_t cli_now(const struct cli *c)
{
	return c->ctx.now_ms ? c->ctx.now_ms : tl_time_now();
}

/* ---- parsing ------------------------------------------------------------- */

static bool is_group(const char *w)
{
	for (size_t i = 0; i < n_commands; i++)
		if (commands[i].group && !strcmp(commands[i].group, w))
			return true;
	return false;
}

/* Whether group and name make a command of INTERFACE.md that later work
 * brings (pipelines and automations: docs/cli.md), which is said so
 * rather than called unknown. */
static bool later_command(const char *group, const char *name)
{
	static const char *const later[] = { "pipeline", "rule", "trigger",
					     "queue", "run-due" };
	if (group)
		return !strcmp(group, "task") && !strcmp(name, "stage");
	for (size_t i = 0; i < sizeof later / sizeof *later; i++)
		if (!strcmp(name, later[i]))
			return true;
	return false;
}

/* The field a missing positional word stands for, as the engine and the
 * server's params name it: "task ID" is the id, "MEMBER" the assignee. */
static const char *word_field(const char *words_name)
{
	static const struct {
		const char *prefix, *field;
	} fields[] = {
		{ "task ID", "id" },	 { "member ID", "id" },
		{ "MEMBER", "assignee" }, { "STATUS", "status" },
		{ "TAG", "tag" },	 { "record", "record" },
		{ "FILE", "file" },	 { "directory", "dir" },
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strncmp(words_name, fields[i].prefix,
			     strlen(fields[i].prefix)))
			return fields[i].field;
	return NULL;
}

static const struct command *find_command(const char *group,
					  const char *name)
{
	for (size_t i = 0; i < n_commands; i++) {
		const struct command *k = &commands[i];
		if ((group ? k->group && !strcmp(k->group, group) : !k->group) &&
		    !strcmp(k->name, name))
			return k;
	}
	return NULL;
}

/* The edit distance of a and b (insertions, deletions, substitutions
 * and swaps of two neighbours), for words of up to 31 bytes; 99 past
 * that. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[32][32];

	if (la > 31 || lb > 31)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* Append 'GROUP NAME' (or 'NAME' without a group) to the quoted names
 * in out, joined by " or "; false, and out as it was, when it does not
 * fit in n bytes. */
static bool meant_add(char *out, size_t n, const char *group,
		      const char *name)
{
	size_t len = strlen(out);
	int w = snprintf(out + len, n - len, "%s'%s%s%s'", len ? " or " : "",
			 group ? group : "", group ? " " : "", name);
	if (w < 0 || (size_t)w >= n - len) {
		out[len] = '\0';
		return false;
	}
	return true;
}

/* The name commands[i] gives the words under group (NULL: top-level):
 * its own, its group's when top-level and it is the group's first
 * command, else NULL. */
static const char *level_name(const char *group, size_t i)
{
	const struct command *k = &commands[i];
	if (group)
		return k->group && !strcmp(k->group, group) ? k->name : NULL;
	if (!k->group)
		return k->name;
	for (size_t j = 0; j < i; j++)
		if (commands[j].group && !strcmp(commands[j].group, k->group))
			return NULL;
	return k->group;
}

/* For an unknown command word (under group, or top-level when group is
 * NULL), the commands that were likely meant, into out ("" when none):
 * top-level "today", "week" and "overdue" (task list --due ...), or a
 * group's command word given alone ("list": task list or member list);
 * else the commands whose names are nearest a misspelt one (one edit
 * away from a word of 3 or 4 bytes, two from a longer one). */
static void likely_meant(const char *group, const char *name, char *out,
			 size_t n)
{
	static const char *const dues[] = { "today", "week", "overdue" };
	size_t len = strlen(name);
	int best = len >= 5 ? 2 : len >= 3 ? 1 : 0;

	out[0] = '\0';
	for (size_t i = 0; !group && i < sizeof dues / sizeof *dues; i++)
		if (!strcmp(name, dues[i])) {
			snprintf(out, n, "'task list --due %s'", name);
			return;
		}
	for (size_t i = 0; !group && i < n_commands; i++)
		if (commands[i].group && !strcmp(commands[i].name, name) &&
		    !meant_add(out, n, commands[i].group, name))
			return;
	if (out[0] || !best)
		return;
	/* The nearest names of this level: the group's commands; top-level,
	 * the commands and the groups (each at its first command). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_commands; i++) {
			const char *cand = level_name(group, i);
			if (!cand)
				continue;
			int dist = distance(name, cand);
			if (pass == 0 && dist < best)
				best = dist;
			else if (pass == 1 && dist == best &&
				 !meant_add(out, n, group, cand))
				return;
		}
}

static void print_group_usage(FILE *f, const char *group)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < n_commands; i++) {
		const char *u = commands[i].usage;
		if (!commands[i].group || strcmp(commands[i].group, group))
			continue;
		/* Each synopsis, without "usage: ": up to its blank line. */
		const char *end = strstr(u, "\n\n");
		size_t n = end ? (size_t)(end - u) : strlen(u);
		fprintf(f, "  %.*s\n", (int)(n - 7), u + 7);
	}
}

static enum opt find_option(const char *name, size_t len)
{
	for (int o = 0; o < O__COUNT; o++)
		if (strlen(optdefs[o].name) == len &&
		    !memcmp(optdefs[o].name, name, len))
			return (enum opt)o;
	return O__COUNT;
}

/* Is word a long option this program knows ("--json", "--due=x")?  Such
 * a word after an option that takes a value is a missing value, not the
 * value: "--assignee --json" must not swallow --json.  Other words are
 * values, "-h", "--" and "-5" too. */
static bool names_option(const char *word)
{
	if (strncmp(word, "--", 2) || !word[2])
		return false;
	if (!strcmp(word, "--version"))
		return true; /* not in optdefs: main() answers it */
	const char *eq = strchr(word + 2, '=');
	size_t len = eq ? (size_t)(eq - word - 2) : strlen(word + 2);
	return find_option(word + 2, len) != O__COUNT;
}

/* The name of the option in allowed nearest the misspelt one of len
 * bytes at name (one edit away from a name of 3 or 4 bytes, two from a
 * longer one, as for commands), or NULL when none or several are. */
static const char *nearest_option(const char *name, size_t len,
				  uint64_t allowed)
{
	char word[32];
	const char *found = NULL;
	int best = len >= 5 ? 2 : len >= 3 ? 1 : 0, ties = 0;

	if (!best || len >= sizeof word)
		return NULL;
	memcpy(word, name, len);
	word[len] = '\0';
	for (int o = 0; o < O__COUNT; o++) {
		if (!(allowed & OPT(o)))
			continue;
		int d = distance(word, optdefs[o].name);
		if (d < best || (d == best && !found)) {
			best = d;
			found = optdefs[o].name;
			ties = 0;
		} else if (d == best) {
			ties++;
		}
	}
	return ties ? NULL : found;
}

/* The error of option `early`, given before the command's words, once
 * the words are read: *first (its provisional "unknown option") said
 * anew for c->cmd, or for no command found. */
static void early_said(struct cli *c, tl_err *first, enum opt early,
		       const char *group, const char *value)
{
	char name[sizeof first->field];
	snprintf(name, sizeof name, "%s", first->field);
	/* the command word read as its value (a walk-through) */
	bool took = !c->cmd && value &&
		    (group ? find_command(group, value) != NULL
			   : is_group(value) || find_command(NULL, value));
	char cut[64];
	const char *said = took ? cut_arg(value, 40, cut, sizeof cut) : NULL;
	if (took)
		usage_error(c, name,
			    "took '%s' for its value: give it after the "
			    "command (tasklog %s%s%s ... %s VALUE)",
			    said, group ? group : "", group ? " " : "", said,
			    name);
	else if (c->cmd && (c->cmd->opts & OPT(early)))
		usage_error(c, name,
			    "comes before the command it belongs to: give it "
			    "after (tasklog %s %s ...)",
			    c->subject, name);
	else if (c->cmd)
		usage_error(c, name, "unknown option for %s", c->subject);
	else
		usage_error(c, name,
			    "is an option of a command: give it after one "
			    "(tasklog %s%s--help lists them)",
			    group ? group : "", group ? " " : "");
	*first = c->err;
}

/* Parse argv into c.  Returns 0, a negative code (c->err set), or
 * 1 when usage was printed and the exit status is in *status. */
static int parse_args(struct cli *c, int argc, char **argv, int *status)
{
	const char *group = NULL;
	bool dashdash = false;
	/* The first error in the options: the parse goes on past it, and
	 * it is the outcome unless --help or -h was among the options
	 * (then the usage is printed, as the help says). */
	int opt_err = 0;
	tl_err first = { .index = -1 };
	enum opt early = O__COUNT; /* the first error: this option given
				      before the command's words */
	const char *early_value = NULL; /* the word it took for its value */
#define OPT_ERR(...)                                            \
	do {                                                    \
		if (!opt_err) {                                 \
			opt_err = usage_error(c, __VA_ARGS__);  \
			first = c->err;                         \
		}                                               \
	} while (0)

	c->tags = calloc((size_t)argc, sizeof *c->tags);
	c->words = calloc((size_t)argc, sizeof *c->words);
	if (!c->tags || !c->words)
		return cli_oom(c);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!dashdash && a[0] == '-' && a[1]) {
			const char *name, *eq, *value = NULL;
			size_t len;
			enum opt o;
			uint64_t allowed = COMMON_OPTS |
					   (c->cmd ? c->cmd->opts : 0);
			char shown[80];

			if (!strcmp(a, "--")) {
				dashdash = true;
				continue;
			}
			if (!strcmp(a, "-h")) {
				c->val[O_HELP] = "";
				continue;
			}
			if (a[1] != '-') {
				OPT_ERR(a, "unknown option (write -- before "
					   "an argument that begins with -)");
				continue;
			}
			name = a + 2;
			eq = strchr(name, '=');
			len = eq ? (size_t)(eq - name) : strlen(name);
			o = find_option(name, len);
			{
				/* cut at a character, as every quoted text */
				char cut[sizeof shown - 2];
				snprintf(shown, sizeof shown, "--%s",
					 tl_quote_max((tl_slice){ name, len },
						      sizeof cut - 4, cut,
						      sizeof cut));
			}
			if (o == O__COUNT && !strncmp(a, "--version", 9) &&
			    (!a[9] || a[9] == '=')) {
				/* known, but alone (main) */
				OPT_ERR(shown, "takes no command or other option "
					   "(tasklog --version [--json])");
				continue;
			}
			if (o != O__COUNT && !(allowed & OPT(o)) &&
			    !c->cmd) {
				/* An option before the command's words: an
				 * error whose words wait for the command (a
				 * walk-through: "unknown option" of one the
				 * command takes); its value is passed over,
				 * so that the command is found. */
				if (!opt_err)
					early = o;
				OPT_ERR(shown, "unknown option");
				if (optdefs[o].has_value && !eq &&
				    i + 1 < argc &&
				    !names_option(argv[i + 1])) {
					i++;
					if (early == o && !early_value)
						early_value = argv[i];
				}
				continue;
			}
			if (o == O__COUNT || !(allowed & OPT(o))) {
				const char *near = o == O__COUNT && c->cmd
					? nearest_option(name, len, allowed)
					: NULL;
				OPT_ERR(shown, "unknown option%s%s%s%s%s",
					c->cmd ? " for " : "",
					c->cmd ? c->subject : "",
					near ? "; did you mean --" : "",
					near ? near : "", near ? "?" : "");
				continue;
			}
			if (optdefs[o].has_value) {
				if (eq)
					value = eq + 1;
				else if (i + 1 < argc &&
					 !names_option(argv[i + 1]))
					value = argv[++i];
				else if (i + 1 < argc) {
					char cut[64];
					OPT_ERR(shown,
						"requires a value (the next word, '%s', is an option; "
						"write %s=VALUE for a value that begins with --)",
						cut_arg(argv[i + 1], 40, cut, sizeof cut), shown);
					continue;
				} else {
					OPT_ERR(shown, "requires a value");
					continue;
				}
			} else if (eq) {
				OPT_ERR(shown, "takes no value");
				continue;
			}
			if (o == O_TAG) {
				c->tags[c->tags_len++] = value;
			} else if (repeat_opts(c->cmd) & OPT(o)) {
				if (!c->many[o] &&
				    !(c->many[o] = calloc((size_t)argc,
							  sizeof *c->many[o])))
					return cli_oom(c);
				c->many[o][c->many_len[o]++] = value;
			} else if (c->val[o] && o != O_JSON && o != O_HELP) {
				OPT_ERR(shown, "given more than once");
				continue;
			}
			c->val[o] = value ? value : "";
			continue;
		}

		if (c->cmd) {
			c->words[c->words_len++] = a;
		} else if (!group && is_group(a)) {
			group = a;
		} else if (!a[0] && opt_err) { /* the first error is said */
			if (early != O__COUNT)
				early_said(c, &first, early, group,
					   early_value);
			c->err = first;
			return opt_err;
		} else if (!a[0]) {
			return usage_error(c, "command",
					   "is empty (tasklog --help lists "
					   "the commands)");
		} else {
			c->cmd = find_command(group, a);
			if (group)
				snprintf(c->subject, sizeof c->subject,
					 "%s %s", group, a);
			else
				snprintf(c->subject, sizeof c->subject, "%s",
					 a);
			if (!c->cmd && opt_err) {
				if (early != O__COUNT)
					early_said(c, &first, early, group,
						   early_value);
				c->err = first;
				return opt_err;
			}
			if (!c->cmd && later_command(group, a))
				return usage_error(c, "command",
						   "'%s' is not in this "
						   "release: pipelines and "
						   "automations come with "
						   "later work", c->subject);
			char meant[96] = "";
			if (!c->cmd)
				likely_meant(group, a, meant, sizeof meant);
			if (!c->cmd && meant[0])
				return usage_error(c, "command",
						   "'%s' is unknown; did you "
						   "mean %s? (tasklog --help "
						   "lists the commands)",
						   c->subject, meant);
			if (!c->cmd)
				return usage_error(c, "command",
						   "'%s' is unknown (tasklog "
						   "--help lists the commands)",
						   c->subject);
			if (early != O__COUNT) {
				early_said(c, &first, early, group,
					   early_value);
				early = O__COUNT;
			}
		}
	}
#undef OPT_ERR
	if (early != O__COUNT && !c->cmd) /* no command word came */
		early_said(c, &first, early, group, early_value);
	if (opt_err && !has(c, O_HELP)) {
		c->err = first;
		return opt_err;
	}
	if (opt_err) /* --help: the usage, exit 0 */
		c->err = (tl_err){ .index = -1 };
	c->json = has(c, O_JSON);

	if (!c->cmd) {
		/* The usage for people on stdout (not with --json, which
		 * asked for one document: the error's); a missing command
		 * is an error of one line on stderr, as every error is. */
		if (has(c, O_HELP) || !c->json) {
			if (group)
				print_group_usage(stdout, group);
			else
				fputs(overall_usage, stdout);
		}
		if (has(c, O_HELP)) {
			*status = 0;
			return 1;
		}
		if (group) {
			snprintf(c->subject, sizeof c->subject, "%s", group);
			return usage_error(c, "command", "'%s' wants a "
					   "subcommand (see tasklog %s --help)",
					   group, group);
		}
		return usage_error(c, "command", "missing (see tasklog --help)");
	}
	if (has(c, O_HELP)) {
		fputs(c->cmd->usage, stdout);
		if (c->cmd->run == run_rebuild) { /* the views of this build */
			size_t n;
			const tl_view *const *v = tl_views_all(&n);
			fputs("views:", stdout);
			for (size_t i = 0; i < n; i++)
				printf(" %s", tl_view_name(v[i]));
			printf(" %s\n", tl_view_name(&tl_view_ids));
		}
		*status = 0;
		return 1;
	}

	if ((int)c->words_len < c->cmd->words_min) {
		/* "task ID and STATUS" with the ID given: name only the rest */
		const char *rest = strstr(c->cmd->words_name, " and ");
		const char *missing = c->words_len && rest
					      ? rest + 5
					      : c->cmd->words_name;
		return usage_error(c, word_field(missing), "missing %s: see "
				   "tasklog %s --help", missing, c->subject);
	}
	if ((int)c->words_len > c->cmd->words_max &&
	    c->cmd->run == run_notifications && !strcmp(c->words[0], "read"))
		return usage_error(c, "ids", "at most %d notification ids at "
				   "a time",
				   c->cmd->words_max - 1);
	if ((int)c->words_len > c->cmd->words_max) {
		char shown[84];
		return usage_error(c, NULL, "unexpected argument '%s'",
				   cut_arg(c->words[c->cmd->words_max], 60,
					   shown, sizeof shown));
	}

	c->from = 1;
	c->limit = DEFAULT_LIMIT;
	if (has(c, O_FROM) && parse_number(c, O_FROM, &c->from))
		return TL_EINVALID;
	if (has(c, O_LIMIT)) {
		if (parse_number(c, O_LIMIT, &c->limit))
			return TL_EINVALID;
		if (c->limit == 0)
			return usage_error(c, "limit", "must be at least 1");
		/* as every list (the library checks theirs); a page is held
		 * in memory, and export prints the whole log */
		if (c->cmd->run == run_log && c->limit > 1000)
			return usage_error(c, "limit",
					   "%" PRIu64 " is more than 1000 (for "
					   "all of the log: tasklog export)",
					   c->limit);
	}
	if (has(c, O_EXPECT_VERSION) &&
	    parse_number(c, O_EXPECT_VERSION, &c->expect_version))
		return TL_EINVALID;
	char cut[64];
	if (has(c, O_FORMAT) && strcmp(c->val[O_FORMAT], "jsonl") &&
	    strcmp(c->val[O_FORMAT], "msgpack"))
		return usage_error(c, "format",
				   "must be jsonl or msgpack, not '%s'",
				   cut_arg(c->val[O_FORMAT], 40, cut,
					   sizeof cut));
	c->msgpack = has(c, O_FORMAT) && !strcmp(c->val[O_FORMAT], "msgpack");
	if (has(c, O_BATCH)) {
		if (parse_number(c, O_BATCH, &c->batch))
			return TL_EINVALID;
		if (c->batch == 0)
			return usage_error(c, "batch", "must be at least 1");
	}
	/* The library takes an empty cursor for the first page; given on
	 * the command line it is a mistake (an unset shell variable). */
	if (has(c, O_CURSOR) && !*c->val[O_CURSOR])
		return usage_error(c, "cursor",
				   "empty: give a next_cursor value, or leave "
				   "--cursor out for the first page");
	return 0;
}

/* --json must shape errors met before it was parsed. */
static bool json_requested(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "--json"))
			return true;
	}
	return false;
}

/* Whether an error met before the words are parsed, or while they are,
 * is also a document on stdout: --json, but not among export's msgpack
 * records (before its command is found, a word "export" that is an
 * option's value keeps the document back too). */
static bool json_doc_requested(const struct cli *c, int argc, char **argv)
{
	bool export = c->cmd && c->cmd->run == run_export, msgpack = false;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		export |= !c->cmd && !strcmp(argv[i], "export");
		msgpack |= !strcmp(argv[i], "--format=msgpack") ||
			   (!strcmp(argv[i], "--format") && i + 1 < argc &&
			    !strcmp(argv[i + 1], "msgpack"));
	}
	return json_requested(argc, argv) && !(export && msgpack);
}

/* LMDB reads the workspace through a memory map: a page past the end of
 * a data file cut short (a partial copy or restore) or a failing disk
 * raises SIGBUS.  A page whose bytes were damaged is worse: LMDB keeps no
 * checksums and trusts what it reads, so a damaged page header or node
 * offset makes it fail an assertion (SIGABRT) or read through a wild
 * pointer (SIGSEGV).  Each is reported as the storage error it is, on
 * one line (and as a document with --json; for verify as its finding),
 * with exit 5, instead of dying of the signal; after the command's work
 * was made durable, as a failure to print its result (exit 0).  SIGBUS
 * is caught for the whole run; SIGSEGV and SIGABRT only while the
 * workspace is open and before the output is printed (elsewhere they
 * are no sign of a damaged file), and a sanitizer build leaves them to
 * the sanitizer, whose report of a bug of tasklog says more.  Only
 * async-signal-safe calls: write and _exit. */

/* What stdout gets with a storage error said without allocating: 0
 * nothing, 1 the error document, 2 verify's document, 3 verify's
 * problem line. */
static volatile sig_atomic_t storage_shape;

#define SIGBUS_WHY                                                          \
	"reading the workspace failed (SIGBUS): a file of it is shorter "   \
	"than the pages it refers to: data.mdb cut short by a partial copy " \
	"or restore (restore it from a copy), or the disk full when lock.mdb " \
	"was made (free space and retry), or a failing disk"
#define CRASH_WHY(sig)                                                      \
	"reading the workspace crashed (" sig "): its data file is most "  \
	"likely damaged, which LMDB does not detect (it keeps no page "     \
	"checksums): restore data.mdb from a copy (a copy that `tasklog "   \
	"verify` finds clean and that still crashes is a bug of tasklog)"

/* A storage error that is not in c->err, with write(2) alone: the line
 * on stderr (unless said already) and on stdout what storage_shape asks
 * for.  why holds no character JSON would escape. */
static void say_storage(const char *why, bool line)
{
	if (line) {
		put_line_fd(STDERR_FILENO, "tasklog: storage: ", why);
	}
	if (storage_shape == 2) { /* verify: its finding, in its shape */
		put_fd(STDOUT_FILENO, "{\"ok\":false,\"problems\":[\"storage: ");
		put_fd(STDOUT_FILENO, why);
		put_fd(STDOUT_FILENO, "\"]}\n");
	} else if (storage_shape == 3) { /* verify for people */
		put_fd(STDOUT_FILENO, "storage: ");
		put_fd(STDOUT_FILENO, why);
		put_fd(STDOUT_FILENO, "\n");
	} else if (storage_shape) {
		put_fd(STDOUT_FILENO, "{\"error\":{\"code\":\"storage\","
				      "\"message\":\"");
		put_fd(STDOUT_FILENO, why);
		put_fd(STDOUT_FILENO, "\",\"field\":\"storage\"}}\n");
	}
}

static void on_fatal(int sig)
{
	/* Two threads of a rebuild may fault at once: one speaks. */
	static atomic_flag once = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&once))
		for (;;)
			pause();
	/* The page that failed may be data.mdb's (cut short) or lock.mdb's
	 * (a full disk when LMDB sized it): the handler cannot tell which. */
	const char *why = sig == SIGBUS    ? SIGBUS_WHY
			  : sig == SIGSEGV ? CRASH_WHY("SIGSEGV")
					   : CRASH_WHY("SIGABRT");
	if (done_durably) {
		say_done_anyway(why);
		_exit(0);
	}
	say_storage(why, true);
	_exit(-TL_ESTORAGE);
}
#undef SIGBUS_WHY
#undef CRASH_WHY

static void on_signal(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_ONSTACK };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* SIGBUS for the whole run, on a stack of its own (a wild pointer may
 * have come with a stack that cannot take another frame). */
static void catch_sigbus(void)
{
	static char stack[64 * 1024];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack };
	sigaltstack(&ss, NULL);
	on_signal(SIGBUS, on_fatal);
}

/* SIGSEGV and SIGABRT while LMDB reads the workspace (on), or no more
 * (off). */
static void catch_crashes(bool on)
{
#ifndef TL_SANITIZER
	on_signal(SIGSEGV, on ? on_fatal : SIG_DFL);
	on_signal(SIGABRT, on ? on_fatal : SIG_DFL);
#else
	(void)on;
#endif
}

/* Out of memory, said without allocating. */
/* An allocation of jansson's parser failed (see mpjson_loadb): stop
 * here.  What the import had not committed is not written (LMDB drops
 * the open transaction with the process).  Nothing holds a lock of
 * stdio or malloc here, so exit(3) is safe; the buffered output, made
 * in memory, is dropped with the process. */
static void parse_nomem(void)
{
	char why[200], more[96] = "", doc[400];
	const import_out *p = import_progress;
	size_t n = (size_t)snprintf(why, sizeof why, "out of memory");
	if (p && p->reading) {
		n += (size_t)snprintf(why + n, sizeof why - n,
				      " reading %s %" PRIu64, import_unit,
				      p->reading);
		snprintf(more, sizeof more, ",\"%s\":%" PRIu64, import_unit,
			 p->reading);
	}
	if (p && p->committed) {
		size_t m = strlen(more);
		batches_before(why + n, sizeof why - n, p);
		snprintf(more + m, sizeof more - m, ",\"imported\":%" PRIu64,
			 p->committed);
	}
	put_line_fd(STDERR_FILENO, "tasklog: storage: ", why);
	if (storage_shape == 1) {
		snprintf(doc, sizeof doc,
			 "{\"error\":{\"code\":\"storage\",\"message\":"
			 "\"%s\",\"field\":\"storage\"%s}}\n",
			 why, more);
		put_fd(STDOUT_FILENO, doc);
	}
	_exit(-TL_ESTORAGE);
}

static void say_oom(const struct cli *c, bool line_said)
{
	if (!storage_shape && c->json)
		storage_shape = 1;
	say_storage("out of memory", !line_said);
}

/* A descriptor among 0, 1 and 2 that is closed would be taken by the
 * next open, LMDB's data.mdb or lock.mdb among them, and what is printed
 * would be written into it: each is opened on /dev/null instead.  Returns
 * false when stdout was closed. */
static bool std_fds_open(void)
{
	bool out_open = true;
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		out_open &= fd != 1;
		int n = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
		if (n >= 0 && n != fd)
			close(n); /* cannot happen: the lowest is taken */
	}
	return out_open;
}

/* Tables for people as wide as $COLUMNS says, else as the terminal
 * that stdout is, else 80 columns (never fewer). */
static void set_table_width(void)
{
	const char *cols = getenv("COLUMNS");
	struct winsize ws;
	if (cols && *cols) {
		char *end;
		errno = 0;
		long n = strtol(cols, &end, 10);
		/* a number past long's range is as wide as a table goes
		 * (since 0.3.51; it was taken as no number: 80) */
		if (!*end && (!errno || (errno == ERANGE && n == LONG_MAX)))
			human_width(n);
		return;
	}
	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws))
		human_width(ws.ws_col);
}

int main(int argc, char **argv)
{
	struct cli c = { .err = { .index = -1 } };
	int rc, status = 0;
	membuf out;

	stdout_open = std_fds_open();
	/* stderr by lines: each line one write(2), so that the lines of
	 * processes sharing a log file or pipe do not mix (unbuffered, an
	 * error line went out a character at a time).  A static buffer:
	 * no allocation to fail. */
	static char errbuf[8192];
	setvbuf(stderr, errbuf, _IOLBF, sizeof errbuf);

	mpjson_init(); /* before any other use of jansson */
	mpjson_on_parse_nomem(parse_nomem);
	catch_sigbus();
	/* Past a file size limit (ulimit -f) a write then fails with EFBIG,
	 * a storage error (exit 5) like a full disk, where SIGXFSZ's default
	 * action killed the process with no word (before 0.3.51). */
	signal(SIGXFSZ, SIG_IGN);

	/* Character classes only (display widths of text in tables);
	 * numbers and messages stay in the C locale. */
	setlocale(LC_CTYPE, "C.UTF-8");
	set_table_width();
	/* --version, alone or with --json: {"version":"0.3.54"} */
	bool version = argc == 2 && !strcmp(argv[1], "--version");
	bool version_json = argc == 3 &&
			    ((!strcmp(argv[1], "--version") &&
			      !strcmp(argv[2], "--json")) ||
			     (!strcmp(argv[1], "--json") &&
			      !strcmp(argv[2], "--version")));
	if (version || version_json) {
		if (!stdout_open) { /* as for any command's output */
			fputs("tasklog: the standard output is closed\n",
			      stderr);
			return -TL_ESTORAGE;
		}
		if (version_json)
			printf("{\"version\":\"%s\"}\n", tl_version());
		else
			printf("tasklog %s\n", tl_version());
		if (!fflush(stdout))
			return 0;
		fprintf(stderr, "tasklog: writing the standard output: %s\n",
			strerror(errno));
		return -TL_ESTORAGE;
	}

	/* What the command prints is kept in memory and written at the end,
	 * once it is known to be whole: an allocation that failed anywhere
	 * on the way (jansson's, the stream's) makes the command an "out of
	 * memory" error that prints nothing else.  (glibc's stdout is an
	 * assignable variable.)  A write prints its result to real_stdout
	 * itself, after its commit (exec_one). */
	real_stdout = stdout;
	FILE *mem = membuf_open(&out);
	if (!mem) {
		/* with --json the error document too, as for any other
		 * allocation that fails (before, a line alone) */
		c.json = json_doc_requested(&c, argc, argv);
		say_oom(&c, false);
		return -TL_ESTORAGE;
	}
	stdout = mem;

	rc = parse_args(&c, argc, argv, &status);
	if (rc == 1)
		goto out;
	if (rc) {
		/* (export's msgpack records: on stderr alone, as below) */
		c.json = json_doc_requested(&c, argc, argv);
		status = report_error(&c, c.subject);
		goto out;
	}

	/* export's msgpack records on stdout: an error document there would
	 * be read as one more; errors go to stderr alone */
	if (c.cmd->run == run_export && c.msgpack)
		c.json = false;
	/* 0 an error line, 1 and the error document, 2 verify's document,
	 * 3 verify's problem line */
	storage_shape = c.cmd->run == run_verify ? (c.json ? 2 : 3) : c.json;
	/* import's arguments and input, before a workspace is opened (or,
	 * with --events, made) */
	if (c.cmd->run == run_import &&
	    ((rc = workspace_there(&c)) || (rc = import_read(&c)) ||
	     (import_events(&c) && makes_workspace(c.dir) &&
	      (rc = import_precheck(&c))))) {
		status = report_error(&c, c.subject);
		goto out;
	}
	/* A command that writes reports its outcome once its work is
	 * durable: a reader gone from a pipe must not kill it then (exit
	 * 141 for a write that was made), but make its print fail (done,
	 * but...).  The others die of SIGPIPE as cat does (export | head). */
	bool listing = c.cmd->run == run_notifications &&
		       !(c.words_len && !strcmp(c.words[0], "read"));
	if ((c.cmd->open == OPEN_CREATE || c.cmd->open == OPEN_WRITE ||
	     c.cmd->open == OPEN_IMPORT || c.cmd->run == run_backup) &&
	    !listing)
		signal(SIGPIPE, SIG_IGN);
	if (c.cmd->open != OPEN_NONE) {
		catch_crashes(true);
		rc = open_workspace(&c);
		if (rc == TL_ESTORAGE && c.cmd->run == run_verify) {
			/* A workspace that cannot be opened is verify's
			 * finding, in verify's shape (exit 5 all the same). */
			json_t *problems = json_array();
			verify_stopped(&c, problems, c.dir);
			status = print_verdict(&c, problems, false, NULL);
			goto out;
		}
		if (rc) {
			/* Without a field the workspace is the subject. */
			status = report_error(&c, c.dir);
			goto out;
		}
	}
	rc = c.cmd->run(&c);
	if (rc > 0) {
		status = rc; /* the command printed its own outcome */
	} else if (rc < 0 && done_durably) {
		say_done_anyway(c.err.message[0] ? c.err.message
						 : tl_code_name(rc));
	} else if (rc < 0) {
		if (!c.err.code && rc < TL_EAGAIN) /* not a tasklog code */
			tl_err_set(&c.err, TL_ESTORAGE, "storage",
				   "failed with code %d", rc);
		else if (!c.err.code)
			tl_err_set(&c.err, rc, "", "%s", tl_code_name(rc));
		status = report_error(&c, c.subject);
	}
out:
	catch_crashes(false); /* what follows reads no workspace */
	stdout = real_stdout;
	/* What was made is short of what it should hold? */
	bool whole = membuf_close(mem, &out) && !mpjson_nomem() &&
		     !membuf_nomem();
	if (!whole && done_durably) {
		say_done_anyway("out of memory");
		out.len = 0;
	} else if (!whole) {
		say_oom(&c, status && !strcmp(c.err.message, "out of memory"));
		status = -TL_ESTORAGE;
		out.len = 0;
	} else if (out.len && !stdout_open && done_durably) {
		say_done_anyway("the standard output is closed");
		out.len = 0;
	} else if (out.len && !stdout_open) {
		fputs("tasklog: the standard output is closed\n", stderr);
		status = status ? status : -TL_ESTORAGE;
		out.len = 0;
	} else if (stdout_failed) { /* said; the error is the command's */
		out.len = 0;
	}
	/* A write that fell short, a flush that failed, or an error left on
	 * the stream by an earlier write: one failure. */
	int werr = 0;
	if (out.len && fwrite(out.p, 1, out.len, stdout) != out.len)
		werr = errno ? errno : EIO;
	if (fflush(stdout) && !werr)
		werr = errno ? errno : EIO;
	if (ferror(stdout) && !werr)
		werr = EIO;
	free(out.p);
	if (stdout_failed)
		werr = 0;
	if (werr && done_durably) {
		say_done_anyway(strerror(werr));
	} else if (werr) { /* also after verify's problems, or an error */
		fprintf(stderr, "tasklog: writing the standard output: %s\n",
			strerror(werr));
		status = status ? status : -TL_ESTORAGE;
	} else if (whole && c.verify_found) {
		/* Exit 5 with its error line, as for every error (since
		 * 0.3.37; the problems themselves are on stdout). */
		fprintf(stderr, "tasklog: verify: %d problem%s found (on the "
				"standard output)\n",
			c.verify_found, c.verify_found == 1 ? "" : "s");
	}
	if (c.db)
		tl_db_close(c.db);
	free(c.tags);
	for (int o = 0; o < O__COUNT; o++)
		free(c.many[o]);
	free(c.words);
	import_job_free(c.prepared);
	free(c.input);
	json_decref(c.err_more);
	return status;
}
