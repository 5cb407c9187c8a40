/*
 * cli.h - what the files of the `tasklog` command line share: the
 * options, the command table, the parsed command line (struct cli), and
 * the helpers every command uses to report errors, open the workspace and
 * print.  tasklog.c parses and runs; commands.c is the table; cmd_*.c
 * run the commands, one group of them per file; progress.c draws the
 * bars on stderr.
 */
#ifndef TASKLOG_CLI_H
#define TASKLOG_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "human.h"
#include "import.h"
#include "json.h"
#include "tasklog.h"

#define DEFAULT_DB "./tasklog-data"
#define DEFAULT_LIMIT 50
/* tl_exec answers TL_EAGAIN after it grew a full map: run it again. */
#define EAGAIN_RETRIES 8

/* ---- options ------------------------------------------------------------ */

enum opt {
	O_DB, O_AS, O_NOW, O_TZ, O_JSON, O_HELP,
	O_WEEK_START, O_ADMIN,
	O_NAME, O_ROLE, O_CRM_ACCESS, O_NO_CRM_ACCESS,
	O_TITLE, O_LINK, O_TYPE, O_DUE, O_NO_DUE, O_ASSIGNEE, O_UNASSIGN,
	O_STATUS, O_NOTES, O_PIPELINE, O_STAGE, O_TAG, O_ID,
	O_IDEMPOTENCY_KEY, O_EXPECT_VERSION,
	O_HISTORY, O_AS_OF,
	O_FROM, O_LIMIT, O_STREAM,
	O_ENTITY_TYPE, O_RECORD, O_AUTOMATION, O_SORT, O_CURSOR, /* task list */
	O_SEARCH,
	O_MEMBER, O_DAYS,                                     /* upcoming */
	O_UNREAD, O_PROJECTION,                 /* notifications, rebuild */
	O_NO_VIEWS,                             /* verify */
	O_COMPACT,                              /* backup */
	O_EXPECT_HEAD,                          /* verify */
	O_ACTOR, O_SINCE, O_UNTIL, O_FOLLOW,    /* export */
	O_FORMAT, O_EVENTS, O_BATCH,            /* export, import */
	O_REVOKE,                               /* member token */
	O_REPLAY,                               /* verify */
	O_CHECK,                                /* import, idempotency prune */
	O_BEFORE,                               /* idempotency prune */
	O_UPCOMING_CURSOR,                      /* timeline */
	O__COUNT
};

struct optdef {
	const char *name; /* without the leading "--" */
	bool has_value;
};
extern const struct optdef optdefs[O__COUNT];

#define OPT(o) ((uint64_t)1 << (o))
#define COMMON_OPTS \
	(OPT(O_DB) | OPT(O_AS) | OPT(O_NOW) | OPT(O_TZ) | OPT(O_JSON) | \
	 OPT(O_HELP))
#define WRITE_OPTS (OPT(O_EXPECT_VERSION) | OPT(O_IDEMPOTENCY_KEY))
/* ---- commands ------------------------------------------------------------ */

struct cli;

enum open_mode {
	OPEN_NONE,   /* the command does not touch the workspace */
	OPEN_CREATE, /* init */
	OPEN_WRITE,
	OPEN_READ,
	OPEN_LOG,    /* reads the log: without the views when they cannot be
			brought up to date (a damaged log), to say why */
	OPEN_IMPORT  /* writes; with --events it may make the workspace, whose
			settings then come from the log imported */
};

struct command {
	const char *group; /* "task", "member", or NULL for a top-level word */
	const char *name;
	const char *usage; /* synopsis and option list, for --help */
	uint64_t opts;     /* options besides COMMON_OPTS */
	int words_min, words_max;
	const char *words_name; /* what the positional words are, for errors */
	enum open_mode open;
	tl_cmd_kind kind; /* task and member writes */
	int (*run)(struct cli *c);
};

struct cli {
	const struct command *cmd;
	char subject[64];         /* "task add": names errors without a field */
	const char *val[O__COUNT]; /* option values; "" for flags */
	const char **tags;        /* every --tag, in order */
	size_t tags_len;
	const char **many[O__COUNT]; /* every value of a repeat option */
	size_t many_len[O__COUNT];
	const char **words;       /* positional words after the command */
	size_t words_len;
	bool json;
	int verify_found; /* problems verify found: said on stderr at exit */
	uint64_t from, limit, expect_version;
	bool msgpack;   /* --format msgpack (export, import) */
	uint64_t batch; /* import --batch; 0: none */

	const char *dir;
	tl_db *db;
	bool has_settings;
	tl_settings settings;
	tl_ctx ctx;
	tl_err err;
	json_t *err_more; /* members added to the JSON error document */

	uint8_t *input;   /* import: FILE, read before the workspace opens */
	size_t input_len;
	struct import_job *prepared; /* import: input checked before a new
					workspace is made, kept for the run */
};

extern const struct command commands[];
extern const size_t n_commands;
extern const char overall_usage[];
/* Options that a command takes more than once (--tag aside). */
uint64_t repeat_opts(const struct command *k);

/* The commands (cmd_write.c, cmd_read.c, cmd_admin.c, cmd_transfer.c). */
int run_init(struct cli *c);
int run_member_write(struct cli *c);
int run_member_list(struct cli *c);
int run_member_token(struct cli *c);
int run_task_write(struct cli *c);
int run_task_show(struct cli *c);
int run_log(struct cli *c);
int run_verify(struct cli *c);
int run_stats(struct cli *c);
int run_task_list(struct cli *c);
int run_upcoming(struct cli *c);
int run_timeline(struct cli *c);
int run_notifications(struct cli *c);
int run_rebuild(struct cli *c);
int run_backup(struct cli *c);
int run_export(struct cli *c);
int run_import(struct cli *c);
int run_idem_prune(struct cli *c);

/* Run one request in its own transaction; print its result once it is
 * durable (cmd_write.c). */
int exec_one(struct cli *c, tl_cmd *cmd, void (*human)(const json_t *));
/* verify could not finish: why is its last problem, and the error line
 * on stderr (cmd_admin.c). */
void verify_stopped(struct cli *c, json_t *problems, const char *subject);
/* verify's answer, from its problems (taken); the exit status. */
int print_verdict(struct cli *c, json_t *problems, bool ok, json_t *head);

/* ---- errors (tasklog.c) ---------------------------------------------------- */

/* The one line on stderr of an error: "tasklog: FIELD: message", or the
 * subject when the error names no field. */
void error_line(const struct cli *c, const char *subject);
/* Print c->err: the line on stderr, and with --json also as a document
 * on stdout.  Returns the exit status. */
int report_error(struct cli *c, const char *subject);
/* Set c->err to a usage error (TL_EINVALID) naming field; returns it. */
int usage_error(struct cli *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* s quoted for a message in buf (tl_quote_max: escapes as tl_quote, cut
 * with "..." after about max bytes at a grapheme cluster's start, or
 * earlier where cap, best max + 20, runs out).  Before 0.3.51 a "%.40s" cut a character in two,
 * which the message then showed as a stray \xNN byte. */
const char *cut_arg(const char *s, size_t max, char *buf, size_t cap);
int cli_oom(struct cli *c);

/* ---- helpers (tasklog.c) --------------------------------------------------- */

tl_slice opt_slice(const struct cli *c, enum opt o);
bool has(const struct cli *c, enum opt o);
/* The --tag values as slices (malloc'd, at least one entry), or NULL. */
tl_slice *tag_slices(const struct cli *c);
int parse_number(struct cli *c, enum opt o, uint64_t *out);
/* All of s to descriptor fd, with write(2) alone. */
void put_fd(int fd, const char *s);
/* head, why and a newline to fd, in one write(2) when they fit 1 KiB. */
void put_line_fd(int fd, const char *head, const char *why);
/* Once a process: the result of durable work could not be printed. */
void say_done_anyway(const char *why);
json_t *doc_json(const uint8_t *doc, size_t len);
/* c->err for a document doc_json could not convert. */
int collect_failed(struct cli *c);

/* Set when a document could not be converted for want of memory. */
extern bool doc_nomem;
/* The process's stdout, while main keeps what a command prints in
 * memory. */
extern FILE *real_stdout;
/* Set once the command's work is durable: what fails after it is said
 * on stderr, and the exit status stays 0. */
extern volatile sig_atomic_t done_durably;
/* False when the caller closed descriptor 1 (it is /dev/null now). */
extern bool stdout_open;
/* Set by a command that wrote descriptor 1 itself (export) and said
 * that a write failed: main then writes nothing more there (an error
 * document would fail alike, and be said twice). */
extern bool stdout_failed;

/* ---- the workspace (tasklog.c) ---------------------------------------------- */

int open_workspace(struct cli *c);
/* The zone that dates given to the CLI itself (--as-of) are read in. */
const char *cli_zone(const struct cli *c);
int64_t cli_now(const struct cli *c);

/* ---- import's state, for the out-of-memory handler (cmd_transfer.c) --------- */

/* --format, --batch and the whole input into c->input, before the
 * workspace opens. */
int import_read(struct cli *c);
/* import --events into a directory without a workspace: every record's
 * form checked before the open makes the workspace's files. */
int import_precheck(struct cli *c);
/* The import running, if any, and what its input's records are called. */
extern const import_out *import_progress;
extern const char *import_unit;
/* " (the N records before its batch were imported: seq A..B)" */
void batches_before(char *buf, size_t len, const import_out *r);

#endif
