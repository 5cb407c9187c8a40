/*
 * tasklog.c - the `tasklog` command line.
 *
 * A small main over the library: it parses the command words and options,
 * hands the option text unchanged to the engine (which validates and parses
 * every field), and prints the result as JSON (--json) or for people.  The
 * only checks made here are about usage: unknown options, missing values,
 * the number of words, and the numbers of --limit, --from, --days and
 * --expect-version.
 *
 * Exit status is -code of the failing tl_err (0 success, 1 invalid, 2 not
 * found, 3 conflict, 4 forbidden, 5 storage); see docs/cli.md.
 */
#include <ctype.h>
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

#include "human.h"
#include "import.h"
#include "json.h"
#include "membuf.h"
#include "tasklog_projections.h"
#include "tasklog.h"
#include "tasklog_view.h" /* tl_member_id_valid */

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
	O_ACTOR, O_SINCE, O_UNTIL,              /* export */
	O_FORMAT, O_EVENTS, O_BATCH,            /* export, import */
	O__COUNT
};

static const struct optdef {
	const char *name; /* without the leading "--" */
	bool has_value;
} optdefs[O__COUNT] = {
	[O_DB] = { "db", true },
	[O_AS] = { "as", true },
	[O_NOW] = { "now", true },
	[O_TZ] = { "tz", true },
	[O_JSON] = { "json", false },
	[O_HELP] = { "help", false },
	[O_WEEK_START] = { "week-start", true },
	[O_ADMIN] = { "admin", true },
	[O_NAME] = { "name", true },
	[O_ROLE] = { "role", true },
	[O_CRM_ACCESS] = { "crm-access", false },
	[O_NO_CRM_ACCESS] = { "no-crm-access", false },
	[O_TITLE] = { "title", true },
	[O_LINK] = { "link", true },
	[O_TYPE] = { "type", true },
	[O_DUE] = { "due", true },
	[O_NO_DUE] = { "no-due", false },
	[O_ASSIGNEE] = { "assignee", true },
	[O_UNASSIGN] = { "unassign", false },
	[O_STATUS] = { "status", true },
	[O_NOTES] = { "notes", true },
	[O_PIPELINE] = { "pipeline", true },
	[O_STAGE] = { "stage", true },
	[O_TAG] = { "tag", true },
	[O_ID] = { "id", true },
	[O_IDEMPOTENCY_KEY] = { "idempotency-key", true },
	[O_EXPECT_VERSION] = { "expect-version", true },
	[O_HISTORY] = { "history", false },
	[O_AS_OF] = { "as-of", true },
	[O_FROM] = { "from", true },
	[O_LIMIT] = { "limit", true },
	[O_STREAM] = { "stream", true },
	[O_ENTITY_TYPE] = { "entity-type", true },
	[O_RECORD] = { "record", true },
	[O_AUTOMATION] = { "automation", true },
	[O_SORT] = { "sort", true },
	[O_CURSOR] = { "cursor", true },
	[O_SEARCH] = { "search", true },
	[O_MEMBER] = { "member", true },
	[O_DAYS] = { "days", true },
	[O_UNREAD] = { "unread", false },
	[O_PROJECTION] = { "projection", true },
	[O_NO_VIEWS] = { "no-views", false },
	[O_COMPACT] = { "compact", false },
	[O_EXPECT_HEAD] = { "expect-head", true },
	[O_ACTOR] = { "actor", true },
	[O_SINCE] = { "since", true },
	[O_UNTIL] = { "until", true },
	[O_FORMAT] = { "format", true },
	[O_EVENTS] = { "events", false },
	[O_BATCH] = { "batch", true },
};

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
};

static int run_init(struct cli *c);
static int run_member_write(struct cli *c);
static int run_member_list(struct cli *c);
static int run_member_token(struct cli *c);
static int run_task_write(struct cli *c);
static int run_task_show(struct cli *c);
static int run_log(struct cli *c);
static int run_verify(struct cli *c);
static int run_stats(struct cli *c);
static int run_task_list(struct cli *c);
static int run_upcoming(struct cli *c);
static int run_timeline(struct cli *c);
static int run_notifications(struct cli *c);
static int run_rebuild(struct cli *c);
static int run_backup(struct cli *c);
static int run_export(struct cli *c);
static int run_import(struct cli *c);
static int print_verdict(struct cli *c, json_t *problems, bool ok,
			 json_t *head);
static void verify_stopped(struct cli *c, json_t *problems,
			   const char *subject);

#define TASK_WRITE(name_, usage_, opts_, min_, max_, words_, kind_) \
	{ "task", name_, usage_, (opts_) | WRITE_OPTS, min_, max_, words_, \
	  OPEN_WRITE, kind_, run_task_write }

static const struct command commands[] = {
	{ NULL, "init",
	  "usage: tasklog init [--tz ZONE] [--week-start monday|sunday] "
	  "[--admin ID]\n\n"
	  "Create the workspace (--db DIR, $TASKLOG_DB or ./tasklog-data).\n"
	  "  --tz ZONE             IANA time zone for dates, today, week "
	  "(default UTC)\n"
	  "  --week-start DAY      monday (default) or sunday\n"
	  "  --admin ID            id of the first admin (default admin)\n",
	  OPT(O_WEEK_START) | OPT(O_ADMIN), 0, 0, NULL, OPEN_CREATE, 0,
	  run_init },

	{ "member", "add",
	  "usage: tasklog member add ID --name NAME [--role admin|member] "
	  "[--no-crm-access]\n"
	  "                 [--idempotency-key K]\n\n"
	  "Add a member (admins only).\n"
	  "  --name NAME           display name\n"
	  "  --role ROLE           admin or member (default member)\n"
	  "  --no-crm-access       the member may not see or edit tasks\n"
	  "  --idempotency-key K   a repeat returns the first result\n",
	  OPT(O_NAME) | OPT(O_ROLE) | OPT(O_NO_CRM_ACCESS) |
		  OPT(O_IDEMPOTENCY_KEY),
	  1, 1, "member ID",
	  OPEN_WRITE, TL_MEMBER_ADD, run_member_write },
	{ "member", "list",
	  "usage: tasklog member list\n\nList the members.\n",
	  0, 0, 0, NULL, OPEN_READ, 0, run_member_list },
	{ "member", "update",
	  "usage: tasklog member update ID [--name NAME] [--role admin|member] "
	  "[--crm-access|--no-crm-access]\n"
	  "                 [--idempotency-key K]\n\n"
	  "Change a member (admins only); what is not given stays.\n"
	  "  --name NAME           display name\n"
	  "  --role ROLE           admin or member\n"
	  "  --crm-access          may see and edit tasks again\n"
	  "  --no-crm-access       may not see or edit tasks\n"
	  "  --idempotency-key K   a repeat returns the first result\n",
	  OPT(O_NAME) | OPT(O_ROLE) | OPT(O_CRM_ACCESS) |
		  OPT(O_NO_CRM_ACCESS) | OPT(O_IDEMPOTENCY_KEY),
	  1, 1, "member ID", OPEN_WRITE, TL_MEMBER_UPDATE, run_member_write },
	{ "member", "token",
	  "usage: tasklog member token ID\n\n"
	  "Print an access token for tasklogd (needs the server).\n",
	  0, 1, 1, "member ID", OPEN_NONE, 0, run_member_token },

	TASK_WRITE("add",
		   "usage: tasklog task add --title T --link TYPE:ID "
		   "[--type TYPE] [--due TIME]\n"
		   "                 [--assignee ID] [--status S] [--notes N] "
		   "[--pipeline P] [--stage S]\n"
		   "                 [--tag T]... [--id UUID] "
		   "[--idempotency-key K]\n\n"
		   "Create a task.\n"
		   "  --title T             1..500 bytes of UTF-8\n"
		   "  --link TYPE:ID        contact, lead, account or "
		   "opportunity, and its id\n"
		   "  --type TYPE           call email message meeting chat "
		   "proposal note task\n"
		   "                        follow_up demo (default task)\n"
		   "  --due TIME            RFC 3339, YYYY-MM-DD, YYYY-MM-DD "
		   "HH:MM (in the\n"
		   "                        zone), or +3d -2h +30m\n"
		   "  --assignee ID         a member with CRM access, or me\n"
		   "  --status S            todo in_progress on_hold completed "
		   "cancelled\n"
		   "  --notes N             up to 64 KiB\n"
		   "  --tag T               repeatable\n"
		   "  --pipeline P, --stage S  refused until pipelines exist\n"
		   "  --id UUID             the task id (default: generated)\n"
		   "  --idempotency-key K   a repeat returns the first result\n",
		   OPT(O_TITLE) | OPT(O_LINK) | OPT(O_TYPE) | OPT(O_DUE) |
			   OPT(O_ASSIGNEE) | OPT(O_STATUS) | OPT(O_NOTES) |
			   OPT(O_PIPELINE) | OPT(O_STAGE) | OPT(O_TAG) |
			   OPT(O_ID),
		   0, 0, NULL, TL_TASK_ADD),
	TASK_WRITE("update",
		   "usage: tasklog task update ID [--title T] [--type TYPE] "
		   "[--due TIME|--no-due] [--notes N]\n"
		   "                 [--expect-version N] "
		   "[--idempotency-key K]\n\n"
		   "Change fields of a task; unchanged values append "
		   "nothing.\n",
		   OPT(O_TITLE) | OPT(O_TYPE) | OPT(O_DUE) | OPT(O_NO_DUE) |
			   OPT(O_NOTES),
		   1, 1, "task ID", TL_TASK_UPDATE),
	TASK_WRITE("assign",
		   "usage: tasklog task assign ID MEMBER | task assign ID "
		   "--unassign\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Assign a task (MEMBER, or me: yourself), or make it "
		   "unassigned.\n",
		   OPT(O_UNASSIGN), 1, 2, "task ID and MEMBER", TL_TASK_ASSIGN),
	TASK_WRITE("status",
		   "usage: tasklog task status ID STATUS\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Set the status: todo in_progress on_hold completed "
		   "cancelled.\n",
		   0, 2, 2, "task ID and STATUS", TL_TASK_STATUS),
	TASK_WRITE("complete",
		   "usage: tasklog task complete ID\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Complete a task.\n",
		   0, 1, 1, "task ID", TL_TASK_COMPLETE),
	TASK_WRITE("reopen",
		   "usage: tasklog task reopen ID [--status S]\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Reopen a completed or cancelled task: its status becomes S "
		   "(todo, the\n"
		   "default, in_progress or on_hold) and completed_at is "
		   "cleared.  An open\n"
		   "task is left as it is.\n",
		   OPT(O_STATUS), 1, 1, "task ID", TL_TASK_REOPEN),
	TASK_WRITE("tag",
		   "usage: tasklog task tag ID TAG\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Add a tag to a task.\n",
		   0, 2, 2, "task ID and TAG", TL_TASK_TAG),
	TASK_WRITE("untag",
		   "usage: tasklog task untag ID TAG\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Remove a tag from a task.\n",
		   0, 2, 2, "task ID and TAG", TL_TASK_UNTAG),
	TASK_WRITE("delete",
		   "usage: tasklog task delete ID\n"
		   "                 [--expect-version N] [--idempotency-key K]\n\n"
		   "Delete a task; its history stays in the log.\n",
		   0, 1, 1, "task ID", TL_TASK_DELETE),
	/* task stage ID STAGE: with pipelines. */
	{ "task", "show",
	  "usage: tasklog task show ID [--history] [--as-of TIME]\n\n"
	  "Show a task.\n"
	  "  --history             also its events, oldest first\n"
	  "  --as-of TIME          the task as it was at TIME\n",
	  OPT(O_HISTORY) | OPT(O_AS_OF), 1, 1, "task ID", OPEN_READ, 0,
	  run_task_show },
	{ "task", "list",
	  "usage: tasklog task list [--assignee ID|me|unassigned]... "
	  "[--status S]...\n"
	  "                 [--entity-type T]... [--record TYPE:ID] "
	  "[--type T]...\n"
	  "                 [--due overdue|today|week|none|FROM..TO]... "
	  "[--tag T]...\n"
	  "                 [--search TEXT]... [--automation hide|include|only]\n"
	  "                 [--sort due|created|updated] [--limit N] "
	  "[--cursor C]\n\n"
	  "List tasks.  Filters combine with AND; the values of a repeated "
	  "filter with OR.\n"
	  "  --assignee ID         a member, me, or unassigned\n"
	  "  --status S            todo in_progress on_hold completed "
	  "cancelled\n"
	  "                        (default: the active ones, the first "
	  "three)\n"
	  "  --entity-type T       contact lead account opportunity\n"
	  "  --record TYPE:ID      the tasks of one record\n"
	  "  --type T              call email message meeting chat "
	  "proposal note task\n"
	  "                        follow_up demo\n"
	  "  --due WHEN            overdue, today, week (in the zone of --tz "
	  "or of the\n"
	  "                        workspace), none,\n"
	  "                        or FROM..TO: due in [FROM, TO); either "
	  "end may be\n"
	  "                        left out; repeatable: --due overdue --due "
	  "today\n"
	  "  --tag T               tasks with tag T, exactly as written; "
	  "repeatable\n"
	  "                        (indexed: a rare tag reads only its tasks)\n"
	  "  --search TEXT         tasks whose title or notes hold every word "
	  "of TEXT,\n"
	  "                        in any case and with or without accents (no "
	  "index:\n"
	  "                        the other filters' tasks are read); up to 8, "
	  "each up\n"
	  "                        to 256 bytes and 16 words\n"
	  "  --automation A        hide (default), include or only "
	  "automation queue rows\n"
	  "  --sort S              due (default; no due last), created or "
	  "updated\n"
	  "                        (newest first)\n"
	  "  --limit N             at most N tasks, 1..1000 (default 50)\n"
	  "  --cursor C            the next page: next_cursor of the page "
	  "before\n",
	  OPT(O_ASSIGNEE) | OPT(O_STATUS) | OPT(O_ENTITY_TYPE) |
		  OPT(O_RECORD) | OPT(O_TYPE) | OPT(O_DUE) |
		  OPT(O_AUTOMATION) | OPT(O_SORT) | OPT(O_LIMIT) |
		  OPT(O_CURSOR) | OPT(O_TAG) | OPT(O_SEARCH),
	  0, 0, NULL, OPEN_READ, 0, run_task_list },
	{ NULL, "upcoming",
	  "usage: tasklog upcoming [--member ID] [--days N] [--limit N] "
	  "[--cursor C]\n\n"
	  "A member's active tasks due from now to now + N days, soonest "
	  "first.\n"
	  "  --member ID           whose (default and me: yourself; others' for "
	  "admins)\n"
	  "  --days N              how many days ahead (default 7)\n"
	  "  --limit N             at most N tasks, 1..1000 (default 50)\n"
	  "  --cursor C            the next page: next_cursor of the page "
	  "before\n",
	  OPT(O_MEMBER) | OPT(O_DAYS) | OPT(O_LIMIT) | OPT(O_CURSOR), 0, 0,
	  NULL, OPEN_READ, 0, run_upcoming },
	{ NULL, "timeline",
	  "usage: tasklog timeline TYPE:ID [--limit N] [--cursor C]\n\n"
	  "A record's timeline: its active tasks with a due date (overdue "
	  "ones too),\n"
	  "soonest first, then one entry per event of its tasks, newest "
	  "first.\n"
	  "  TYPE:ID               contact, lead, account or opportunity, "
	  "and its id\n"
	  "  --limit N             at most N history entries, 1..1000 "
	  "(default 50)\n"
	  "  --cursor C            the next page of history: next_cursor of "
	  "the page before\n",
	  OPT(O_LIMIT) | OPT(O_CURSOR), 1, 1, "record TYPE:ID", OPEN_READ, 0,
	  run_timeline },
	{ NULL, "notifications",
	  "usage: tasklog notifications [--member ID] [--unread] [--limit N] "
	  "[--cursor C]\n"
	  "       tasklog notifications read ID... [--member ID] "
	  "[--idempotency-key K]\n\n"
	  "A member's notifications of tasks assigned to them by someone "
	  "else, unread\n"
	  "first, newest first; or mark some read.\n"
	  "  --member ID           whose (default and me: yourself; others' for "
	  "admins)\n"
	  "  --unread              only the unread ones\n"
	  "  --limit N             at most N, 1..1000 (default 50)\n"
	  "  --cursor C            the next page: next_cursor of the page "
	  "before\n"
	  "  read ID...            mark these notifications read (ids as "
	  "listed; those\n"
	  "                        read already stay so, and append "
	  "nothing)\n"
	  "  --idempotency-key K   (read) a repeat with K returns the first "
	  "result\n",
	  OPT(O_MEMBER) | OPT(O_UNREAD) | OPT(O_LIMIT) | OPT(O_CURSOR) |
		  OPT(O_IDEMPOTENCY_KEY), 0,
	  1001, "notification IDs", OPEN_WRITE, 0, run_notifications },
	{ NULL, "rebuild",
	  "usage: tasklog rebuild [--projection NAME]...\n\n"
	  "Rebuild views from the log while the old ones keep serving, then "
	  "switch\n"
	  "(admins only).  A progress bar goes to stderr when it is a "
	  "terminal.\n"
	  "  --projection NAME     a view (listed below); "
	  "repeatable\n"
	  "                        (default: every view)\n",
	  OPT(O_PROJECTION), 0, 0, NULL, OPEN_WRITE, 0, run_rebuild },
	{ NULL, "backup",
	  "usage: tasklog backup DIR [--compact]\n\n"
	  "Copy the workspace as of one moment into DIR, a new (or empty) "
	  "directory,\n"
	  "while it goes on serving; DIR is then a workspace (`tasklog --db "
	  "DIR ...`).\n"
	  "The copy is fsync'd before this exits 0.  Admins only.\n"
	  "  --compact             leave out free pages: the copy is as small "
	  "as its data\n"
	  "                        (LMDB walks every B-tree instead of "
	  "copying the file)\n",
	  OPT(O_COMPACT), 1, 1, "directory DIR", OPEN_LOG, 0, run_backup },

	{ NULL, "log",
	  "usage: tasklog log [--from SEQ] [--limit N] [--stream ID]\n\n"
	  "Print events of the log, oldest first.\n"
	  "  --from SEQ            first seq (inclusive, default 1)\n"
	  "  --limit N             at most N events (default 50)\n"
	  "  --stream ID           only this stream (a task id, member:ID "
	  "or workspace)\n",
	  OPT(O_FROM) | OPT(O_LIMIT) | OPT(O_STREAM), 0, 0, NULL, OPEN_LOG, 0,
	  run_log },
	{ NULL, "export",
	  "usage: tasklog export [--from SEQ] [--stream ID] [--actor ID]\n"
	  "                      [--since TIME] [--until TIME] "
	  "[--format jsonl|msgpack]\n\n"
	  "Print the log as it is when the command starts, oldest first, one "
	  "event per\n"
	  "line as JSON (JSON Lines), straight to the standard output.  A "
	  "non-zero exit\n"
	  "means that what was printed is not the whole of it.  Filters "
	  "AND-combine.\n"
	  "  --from SEQ            first seq (inclusive, default 1)\n"
	  "  --stream ID           only this stream (a task id, member:ID "
	  "or workspace):\n"
	  "                        the events about it\n"
	  "  --actor ID            only the events this member (or "
	  "parsa-assistant) made\n"
	  "  --since TIME          only events at or after TIME (their "
	  "\"at\")\n"
	  "  --until TIME          only events before TIME\n"
	  "  --format F            jsonl (default), or msgpack: each event's "
	  "stored record,\n"
	  "                        one after another (`import --format "
	  "msgpack --events`)\n",
	  OPT(O_FROM) | OPT(O_STREAM) | OPT(O_ACTOR) | OPT(O_SINCE) |
		  OPT(O_UNTIL) | OPT(O_FORMAT),
	  0, 0, NULL, OPEN_LOG, 0, run_export },
	{ NULL, "import",
	  "usage: tasklog import FILE|- [--format jsonl|msgpack] [--events] "
	  "[--batch N]\n\n"
	  "Add the tasks of FILE (- for the standard input), one per record, "
	  "as\n"
	  "`task add` does, and run its commands; or, with --events, "
	  "append the\n"
	  "events of a log as `export` wrote them, where they continue this "
	  "log (into a\n"
	  "new workspace: a whole log).\n"
	  "Every record is checked first; then all of them are one "
	  "transaction: a\n"
	  "failure imports nothing, and names the line (or record) and the "
	  "field.\n"
	  "Admins only.  A progress bar goes to stderr when it is a "
	  "terminal.\n"
	  "  --format F            jsonl (default: one JSON object per line) "
	  "or msgpack\n"
	  "                        (a sequence of maps)\n"
	  "  --events              the records are events (admins only), "
	  "not tasks\n"
	  "  --batch N             a durable commit every N records; a "
	  "failure then keeps\n"
	  "                        the batches before it\n"
	  "A task record holds the fields of `task show --json`: title, "
	  "link ({type, id}\n"
	  "or \"TYPE:ID\"), type, status, due_at (any time --due takes), "
	  "assignee, notes,\n"
	  "tags, id, and idempotency_key; created_at, created_by, "
	  "updated_at,\n"
	  "completed_at and version are left to the import's own events.\n"
	  "A command record is {\"method\": \"task.update\", \"params\": "
	  "{\"id\": ID, ...}}:\n"
	  "task.add|update|assign|status|complete|tag|untag|delete, "
	  "member.add|update or\n"
	  "notifications.read; its params are the command's long options "
	  "with _ for -\n"
	  "and its words by name (id, assignee, status, tag, ids; "
	  "expect_version, no_due:\n"
	  "true, crm_access: false, ...): see docs/cli.md, import.\n",
	  OPT(O_FORMAT) | OPT(O_EVENTS) | OPT(O_BATCH), 1, 1, "FILE (or -)",
	  OPEN_IMPORT, 0, run_import },
	{ NULL, "verify",
	  "usage: tasklog verify [--no-views] [--expect-head SEQ:HASH]\n\n"
	  "Check the hash chain, seq contiguity, stream versions, that the\n"
	  "stored state equals a fresh fold of the log, and every view.  Exit 5\n"
	  "on a problem (a view it could not compare is one).  Admins only.\n"
	  "Prints the head (its seq and hash) that it checked the log up to.\n"
	  "A progress bar of its steps goes to stderr when it is a terminal.\n"
	  "  --no-views            check all but the views (which a read-only\n"
	  "                        access cannot compare)\n"
	  "  --expect-head SEQ:HASH  a head an earlier verify printed: the "
	  "event\n"
	  "                        SEQ must still be there with that hash "
	  "(so the\n"
	  "                        log up to it is unchanged)\n",
	  OPT(O_NO_VIEWS) | OPT(O_EXPECT_HEAD), 0, 0, NULL, OPEN_LOG, 0,
	  run_verify },
	{ NULL, "stats",
	  "usage: tasklog stats\n\nCounts and sizes of the workspace.\n",
	  0, 0, 0, NULL, OPEN_READ, 0, run_stats },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Options that a command takes more than once (--tag aside): the values
 * of one filter, OR-combined. */
static uint64_t repeat_opts(const struct command *k)
{
	if (k && k->run == run_task_list)
		return OPT(O_ASSIGNEE) | OPT(O_STATUS) | OPT(O_ENTITY_TYPE) |
		       OPT(O_TYPE) | OPT(O_DUE) | OPT(O_SEARCH);
	if (k && k->run == run_rebuild)
		return OPT(O_PROJECTION);
	return 0;
}

static const char overall_usage[] =
	"usage: tasklog [--db DIR] [--as MEMBER] [--now TIME] [--tz ZONE] "
	"[--json] COMMAND ...\n"
	"\n"
	"Commands:\n"
	"  init                      create a workspace\n"
	"  member add|list|update|token\n"
	"                            manage the members\n"
	"  task add|update|assign|status|complete|reopen|tag|untag|delete|show|list\n"
	"                            create, change, read and list tasks\n"
	"  upcoming                  a member's tasks due in the next days\n"
	"  timeline TYPE:ID          a record's upcoming tasks and history\n"
	"  notifications [read ID...]\n"
	"                            list notifications, or mark them read\n"
	"  rebuild                   rebuild views from the log\n"
	"  backup DIR                copy the workspace while it serves\n"
	"  log                       read the event log\n"
	"  export                    the log as JSON Lines (or msgpack)\n"
	"  import FILE               add tasks from a file, or append a "
	"log's events\n"
	"  verify                    check the log and the stored state\n"
	"  stats                     counts and sizes\n"
	"\n"
	"Common options, before or after the command words:\n"
	"  --db DIR                  workspace (default $TASKLOG_DB, else "
	"./tasklog-data)\n"
	"  --as MEMBER               act as this member (default: the first "
	"admin)\n"
	"  --now TIME                the clock, for tests and replays\n"
	"  --tz ZONE                 time zone for dates (default: the "
	"workspace's)\n"
	"  --json                    machine-readable output\n"
	"\n"
	"Run `tasklog COMMAND --help` for a command's options, `tasklog --version`\n"
	"for the version.\n";

/* ---- errors --------------------------------------------------------------- */

/* The one line on stderr of an error: "tasklog: FIELD: message", or the
 * subject when the error names no field. */
static void error_line(const struct cli *c, const char *subject)
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
static int report_error(struct cli *c, const char *subject)
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

static int usage_error(struct cli *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage_error(struct cli *c, const char *field, const char *fmt, ...)
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

static tl_slice opt_slice(const struct cli *c, enum opt o)
{
	return tl_s(c->val[o]);
}

static bool has(const struct cli *c, enum opt o)
{
	return c->val[o] != NULL;
}

/* The --tag values as slices (malloc'd, at least one entry), or NULL. */
static tl_slice *tag_slices(const struct cli *c)
{
	tl_slice *t = calloc(c->tags_len ? c->tags_len : 1, sizeof *t);
	for (size_t i = 0; t && i < c->tags_len; i++)
		t[i] = tl_s(c->tags[i]);
	return t;
}

static int parse_number(struct cli *c, enum opt o, uint64_t *out)
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
	if (!s[0] || strspn(s, "0123456789") != strlen(s))
		return usage_error(c, name, "not a number: '%.40s'", s);
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return usage_error(c, name, "number too large: \"%.40s\"", s);
	return 0;
}

/* Set when a document could not be converted for want of memory: the
 * failure is then not the document's. */
static bool doc_nomem;

/* The process's stdout, while main keeps what a command prints in
 * memory. */
static FILE *real_stdout;
/* Set once the command's work is durable (an event appended, a workspace
 * initialised, views rebuilt): a command that fails must have changed
 * nothing, so what fails after this (printing its result) is said on
 * stderr, and the exit status stays 0. */
static volatile sig_atomic_t done_durably; /* read by on_fatal too */
/* False when the caller closed descriptor 1 (it is /dev/null now). */
static bool stdout_open = true;

/* All of s to descriptor fd, with write(2) alone (signal handlers use
 * it too); a write that fails ends it. */
static void put_fd(int fd, const char *s)
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

/* Once a process: the first reason is the one said.  With write(2)
 * alone: on_fatal says it too. */
static void say_done_anyway(const char *why)
{
	static volatile sig_atomic_t said;
	if (said)
		return;
	said = 1;
	put_fd(STDERR_FILENO,
	       "tasklog: done, but its result could not be printed: ");
	put_fd(STDERR_FILENO, why);
	put_fd(STDERR_FILENO, "\n");
}

static int cli_oom(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, "storage", "out of memory");
}

static json_t *doc_json(const uint8_t *doc, size_t len)
{
	json_t *v = mpjson_from_doc(doc, len);
	if (!v && (errno == ENOMEM || mpjson_nomem()))
		doc_nomem = true;
	return v;
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
	if (c->cmd->open == OPEN_CREATE || import_events(c))
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

/* ---- progress bars ------------------------------------------------------ */

struct progress {
	struct timespec start;
	bool started; /* open_progress: its line is out */
	bool shown;
	uint64_t total;
	const char *unit;  /* "events" (rebuild) or "records" (import) */
	const char *rate;  /* "ev/s" or "rec/s" */
	const char *after; /* what runs once all are read: ", writing the
			      views" */
	const char *label; /* said last, always: " (verify 2/6: ...)" */
	double drawn;      /* seconds_since(start) when last drawn */
	uint64_t most;     /* the most done so far: a batch an import runs
			      again (its map grown) does not move it back */
};

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* "[#####.....] 45% 1234567/2000000 events 512k ev/s ETA 3s", redrawn in
 * place on stderr (at most ten times a second). */
static void show_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	double secs = seconds_since(&p->start);
	if (done < p->most ||
	    (p->shown && done < total && secs - p->drawn < 0.1))
		return;
	p->most = done;
	p->drawn = secs;
	double rate = secs > 0 ? (double)done / secs : 0;
	unsigned pct = total ? (unsigned)(done >= total ? 100
					  : done * 100 / total) : 100;
	char bar[11], speed[24], eta[24] = "";

	memset(bar, '#', pct / 10);
	memset(bar + pct / 10, '.', 10 - pct / 10);
	bar[10] = 0;
	if (rate >= 1e6)
		snprintf(speed, sizeof speed, "%.1fM", rate / 1e6);
	else if (rate >= 1e3)
		snprintf(speed, sizeof speed, "%.0fk", rate / 1e3);
	else
		snprintf(speed, sizeof speed, "%.0f", rate);
	if (rate > 0 && done < total) {
		double left = (double)(total - done) / rate;
		if (left >= 60)
			snprintf(eta, sizeof eta, " ETA %dm%02ds",
				 (int)(left / 60), (int)left % 60);
		else
			snprintf(eta, sizeof eta, " ETA %.0fs", left);
	}
	/* \033[K clears what a longer line before left behind. */
	fprintf(stderr, "\r[%s] %u%% %" PRIu64 "/%" PRIu64
		" %s %s %s%s%s%s\033[K", bar, pct, done, total, p->unit, speed,
		p->rate, eta, done >= total && p->after ? p->after : "",
		p->label ? p->label : "");
	fflush(stderr);
	p->shown = true;
	p->total = total;
}

/* The bar's last line: done, and how long it took; or the line ended
 * before an error is said. */
static void end_progress(const struct progress *p, int rc)
{
	if (p->shown && !rc)
		fprintf(stderr, "\r[##########] 100%% %" PRIu64 "/%" PRIu64
			" %s in %.1f s\033[K\n", p->total, p->total, p->unit,
			seconds_since(&p->start));
	else if (p->shown)
		fputc('\n', stderr);
}

/* The rebuild an open may run: its first call says so, then the bar. */
static void open_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	if (!p->started) {
		p->started = true;
		clock_gettime(CLOCK_MONOTONIC, &p->start);
		fputs("tasklog: bringing the views up to date before "
		      "answering (a rebuild from the log, or a wait for "
		      "another's)\n",
		      stderr);
	}
	show_progress(p, done, total);
}

/* verify's steps on one line: each step's bar, then which step it is
 * and what it checks. */
struct verify_bar {
	struct progress p;
	struct timespec start;
	int step, steps;
	char rate[24], label[96];
};

static void verify_progress(void *arg, const tl_verify_step *s)
{
	struct verify_bar *b = arg;
	if (s->step != b->step) {
		if (!b->step)
			clock_gettime(CLOCK_MONOTONIC, &b->start);
		b->step = s->step;
		b->steps = s->steps;
		snprintf(b->rate, sizeof b->rate, "%s/s",
			 strcmp(s->unit, "events") ? s->unit : "ev");
		snprintf(b->label, sizeof b->label, " (verify %d/%d: %s)",
			 s->step, s->steps, s->what);
		b->p = (struct progress){ .unit = s->unit, .rate = b->rate,
					  .label = b->label,
					  .after = s->step == 5 ? ", writing"
								: NULL };
		clock_gettime(CLOCK_MONOTONIC, &b->p.start);
	}
	show_progress(&b->p, s->done, s->total);
}

static void end_verify_progress(const struct verify_bar *b, int rc)
{
	if (b->step && b->step == b->steps && rc >= 0)
		fprintf(stderr, "\r[##########] verify: %d steps in %.1f s\033[K\n",
			b->steps, seconds_since(&b->start));
	else if (b->step && rc >= 0) /* views not compared: damaged pages */
		fprintf(stderr, "\r[##########] verify: %d of %d steps in %.1f "
				"s\033[K\n",
			b->step, b->steps, seconds_since(&b->start));
	else if (b->step)
		fputc('\n', stderr);
}

static int open_workspace(struct cli *c)
{
	tl_open_opts oo = { 0 };
	const char *zone;
	bool fallback = false; /* opened without the views (OPEN_LOG) */
	int rc;

	/* Arguments before anything is opened: --tz for every command,
	 * init's options, and no other command creates a workspace's
	 * files. */
	if (has(c, O_TZ) && !tl_tz_valid(c->val[O_TZ]))
		return tl_err_set(&c->err, TL_EINVALID, "tz",
				  "unknown time zone '%.64s'", c->val[O_TZ]);
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
		     (c->cmd->run == run_notifications && !c->words_len);
	if (reads)
		oo.flags |= TL_OPEN_READ_FALLBACK;
	/* Every view, always: the engine applies to the views a workspace
	 * is opened with, so a writer that left one out would leave it
	 * behind the log. */
	oo.views = tl_views_all(&oo.views_len);
	/* An import is one transaction, which a full map makes start over:
	 * room for it first (address space; the file grows as it is
	 * written).  A workspace takes about ten times the msgpack of its
	 * log with every view. */
	if (c->cmd->open == OPEN_IMPORT)
		oo.map_size = c->input_len < ((uint64_t)1 << 40)
				      ? (uint64_t)c->input_len * 16 +
						((uint64_t)64 << 20)
				      : (uint64_t)1 << 46;
	/* After an upgrade that changed a view, the first open rebuilds it
	 * from the log: said on a terminal, with a bar. */
	struct progress bar = { .unit = "events", .rate = "ev/s",
				.after = ", writing the views" };
	rc = tl_db_open_progress(c->dir, &oo,
				 isatty(STDERR_FILENO) ? open_progress : NULL,
				 &bar, &c->db, &c->err);
	end_progress(&bar, rc);
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
static const char *cli_zone(const struct cli *c)
{
	if (c->val[O_TZ])
		return c->val[O_TZ];
	return c->has_settings ? c->settings.tz : NULL;
}

static int64_t cli_now(const struct cli *c)
{
	return c->ctx.now_ms ? c->ctx.now_ms : tl_time_now();
}

/* ---- init -------------------------------------------------------------- */

static int run_init(struct cli *c)
{
	tl_init_opts io = {
		.tz = c->val[O_TZ],
		.week_start = c->val[O_WEEK_START],
		.admin = c->val[O_ADMIN],
		.now_ms = c->ctx.now_ms,
	};
	const char *week;
	int rc;

	rc = tl_db_init(c->db, &io, &c->err);
	if (rc)
		return rc;
	done_durably = true;
	rc = tl_db_settings(c->db, &c->settings, &c->err);
	if (rc)
		return rc;
	week = c->settings.week_start ? "monday" : "sunday";
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "db", mpjson_string(c->dir,
							   strlen(c->dir)));
		json_object_set_new(o, "tz", json_string(c->settings.tz));
		json_object_set_new(o, "week_start", json_string(week));
		json_object_set_new(o, "admin",
				    json_string(c->settings.admin));
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		fputs("initialised ", stdout);
		put_clean(stdout, c->dir); /* any bytes: escaped */
		printf(": time zone %s, weeks start on %s, admin %s\n",
		       c->settings.tz, week, c->settings.admin);
	}
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

/* What a write prints, made into memory (*out, malloc'd; *len bytes)
 * while its transaction is still open: once the commit has made the
 * event durable nothing may fail, since a command that fails must have
 * appended nothing. */
static int render_result(struct cli *c, const tl_result *res,
			 void (*human)(const json_t *), char **out,
			 size_t *len)
{
	json_t *v = NULL;
	*out = NULL;
	*len = 0;
	if (res->doc) {
		if (!(v = doc_json(res->doc, res->doc_len)))
			return tl_err_set(&c->err, TL_ESTORAGE,
					  doc_nomem ? "storage" : "", "%s",
					  doc_nomem ? "out of memory"
						    : "undecodable document");
	} else if (c->json) {
		if (!(v = json_pack("{s:I,s:b}", "seq", (json_int_t)res->seq,
				    "appended", res->appended)))
			return cli_oom(c);
	} else {
		return 0; /* nothing to print */
	}
	bool ok;
	if (c->json) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		size_t n = s ? strlen(s) : 0;
		char *t = s ? realloc(s, n + 2) : NULL;
		ok = t != NULL;
		if (ok) {
			memcpy(t + n, "\n", 2);
			*out = t;
			*len = n + 1;
		} else {
			free(s);
		}
	} else {
		/* The human printers write to stdout: point it at memory for
		 * the time (glibc's stdout is an assignable variable). */
		membuf m;
		FILE *real = stdout, *f = membuf_open(&m);
		if (f) {
			stdout = f;
			human(v);
			stdout = real;
		}
		ok = membuf_close(f, &m);
		*out = m.p;
		*len = m.len;
	}
	json_decref(v);
	if (ok && (mpjson_nomem() || membuf_nomem())) { /* v may be short */
		free(*out);
		*out = NULL;
		*len = 0;
		ok = false;
	}
	return ok ? 0 : cli_oom(c);
}

/* A map that stayed full though it grew at each try. */
static int map_full(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, "storage",
			  "map full, grown %d times", EAGAIN_RETRIES);
}

/* Run one request in its own transaction; print its result once it is
 * durable. */
static int exec_one(struct cli *c, tl_cmd *cmd,
		    void (*human)(const json_t *))
{
	int rc;

	if (has(c, O_EXPECT_VERSION)) {
		cmd->has_expect_version = true;
		cmd->expect_version = c->expect_version;
	}
	cmd->idempotency_key = opt_slice(c, O_IDEMPOTENCY_KEY);
	for (int tries = 1;; tries++) {
		tl_result res = { 0 };
		tl_txn *t;
		char *out;
		size_t len;
		if ((rc = tl_txn_begin(c->db, &t, &c->err)))
			return rc;
		rc = tl_txn_exec(t, &c->ctx, cmd, 1, &res, &c->err);
		if (rc == TL_EAGAIN) {
			/* The map is full: commit ends the transaction
			 * (nothing of it is kept) and grows the map, or
			 * says why it cannot. */
			rc = tl_txn_commit(t, &c->err);
			if (rc == TL_EAGAIN && tries < EAGAIN_RETRIES)
				continue;
			return rc && rc != TL_EAGAIN ? rc : map_full(c);
		}
		if (rc) {
			tl_txn_abort(t);
			return rc;
		}
		rc = render_result(c, &res, human, &out, &len);
		tl_result_release(&res);
		if (rc) {
			tl_txn_abort(t);
			return rc;
		}
		rc = tl_txn_commit(t, &c->err); /* grows the map when full */
		if (rc) {
			free(out);
			if (rc == TL_EAGAIN && tries < EAGAIN_RETRIES)
				continue;
			return rc == TL_EAGAIN ? map_full(c) : rc;
		}
		/* Durable now: straight out, past main's buffer, whose
		 * growth could fail.  What fails from here on is not the
		 * command's: it is said, and the exit status stays 0. */
		done_durably = true;
		if (len && !stdout_open)
			say_done_anyway("the standard output is closed");
		else if (len && (fwrite(out, 1, len, real_stdout) != len ||
				 fflush(real_stdout)))
			say_done_anyway(strerror(errno));
		free(out);
		return 0;
	}
}

static int run_task_write(struct cli *c)
{
	tl_cmd cmd = { .kind = c->cmd->kind };
	tl_slice *tags = NULL;
	int rc;

	cmd.title = opt_slice(c, O_TITLE);
	cmd.type = opt_slice(c, O_TYPE);
	cmd.status = opt_slice(c, O_STATUS);
	cmd.notes = opt_slice(c, O_NOTES);
	cmd.link = opt_slice(c, O_LINK);
	cmd.due = opt_slice(c, O_DUE);
	cmd.assignee = opt_slice(c, O_ASSIGNEE);
	cmd.pipeline = opt_slice(c, O_PIPELINE);
	cmd.stage = opt_slice(c, O_STAGE);
	cmd.no_due = has(c, O_NO_DUE);
	cmd.unassign = has(c, O_UNASSIGN);

	if (cmd.kind == TL_TASK_ADD) {
		cmd.id = opt_slice(c, O_ID);
	} else {
		cmd.id = tl_s(c->words[0]);
	}
	switch (cmd.kind) {
	case TL_TASK_ADD:
		if (c->tags_len) {
			if (!(tags = tag_slices(c)))
				return cli_oom(c);
			cmd.tags = tags;
			cmd.tags_len = c->tags_len;
		}
		break;
	case TL_TASK_UPDATE:
		if (cmd.no_due && cmd.due.p)
			return usage_error(c, "due",
					   "--no-due and --due cannot be given "
					   "together");
		break;
	case TL_TASK_ASSIGN:
		if (cmd.unassign && c->words_len == 2)
			return usage_error(c, "assignee",
					   "--unassign and a MEMBER cannot be "
					   "given together");
		if (!cmd.unassign && c->words_len < 2)
			return usage_error(c, NULL,
					   "missing MEMBER (or --unassign)");
		if (c->words_len == 2)
			cmd.assignee = tl_s(c->words[1]);
		break;
	case TL_TASK_STATUS:
		cmd.status = tl_s(c->words[1]);
		break;
	case TL_TASK_TAG:
	case TL_TASK_UNTAG:
		tags = calloc(1, sizeof *tags);
		if (!tags)
			return cli_oom(c);
		tags[0] = tl_s(c->words[1]);
		cmd.tags = tags;
		cmd.tags_len = 1;
		break;
	default:
		break;
	}
	rc = exec_one(c, &cmd, human_task);
	free(tags);
	return rc;
}

static int run_member_write(struct cli *c)
{
	tl_cmd cmd = { .kind = c->cmd->kind };

	if (has(c, O_CRM_ACCESS) && has(c, O_NO_CRM_ACCESS))
		return usage_error(c, "crm_access",
				   "--crm-access and --no-crm-access "
				   "cannot be given together");
	cmd.id = tl_s(c->words[0]);
	cmd.name = opt_slice(c, O_NAME);
	cmd.role = opt_slice(c, O_ROLE);
	if (has(c, O_NO_CRM_ACCESS))
		cmd.crm_access = -1;
	else if (has(c, O_CRM_ACCESS) || cmd.kind == TL_MEMBER_ADD)
		cmd.crm_access = 1;
	return exec_one(c, &cmd, human_member);
}

static int run_member_token(struct cli *c)
{
	return usage_error(c, NULL,
			   "requires the server (not yet available)");
}

/* ---- reads ------------------------------------------------------------- */

/* Gathers documents handed to a callback into a JSON array. */
struct collect {
	json_t *items;
	bool as_of;       /* keep only events with at <= as_of_ms */
	int64_t as_of_ms;
	uint64_t last_seq; /* of the last event seen */
	size_t seen;       /* events seen, kept or not */
	bool failed;       /* a document did not decode */
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
	k->seen++;
	if (k->as_of && ev->at_ms > k->as_of_ms)
		return 0;
	return collect_doc(arg, ev->raw, ev->raw_len);
}

static int collect_failed(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, doc_nomem ? "storage" : "",
			  "%s",
			  doc_nomem ? "out of memory" : "undecodable record");
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

static int run_log(struct cli *c)
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
	print_list(c, k.items, cursor, human_event);
	if (!c->json && buf[0]) /* as the other lists say it */
		printf("next page: --from %s\n", buf);
	json_decref(k.items);
	return 0;
}

static int run_member_list(struct cli *c)
{
	struct collect k = { .items = json_array() };
	int rc;

	rc = tl_member_list(c->db, &c->ctx, collect_doc, &k, &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc) {
		json_decref(k.items);
		return rc;
	}
	if (!c->json) {
		human_member_table(k.items);
	} else {
		print_list(c, k.items, json_null(), human_member);
	}
	json_decref(k.items);
	return 0;
}

static int run_task_show(struct cli *c)
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
	struct collect k = { .items = json_array(),
			     .as_of = has(c, O_AS_OF),
			     .as_of_ms = as_of };
	rc = tl_log_read(c->db, &c->ctx, 1, 0, tl_s(sid ? sid : c->words[0]),
			 collect_event, &k, &c->err);
	if (k.failed) /* the callback stopped the read */
		rc = collect_failed(c);
	if (rc == 0) {
		if (c->json) {
			json_t *o = json_object();
			json_object_set(o, "task", task);
			json_object_set(o, "events", k.items);
			mpjson_print(stdout, o);
			json_decref(o);
		} else {
			human_task(task);
			printf("\nHistory\n");
			human_history(k.items);
		}
	}
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

static int run_task_list(struct cli *c)
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

static int run_upcoming(struct cli *c)
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

static int run_timeline(struct cli *c)
{
	struct timeline_out t = { .up = { .items = json_array() },
				  .items = { .items = json_array() } };
	char next[TL_CURSOR_MAX] = "";
	int rc;

	rc = tl_timeline(c->db, &c->ctx, tl_s(c->words[0]), (size_t)c->limit,
			 opt_slice(c, O_CURSOR), collect_upcoming,
			 collect_item, &t, next, &c->err);
	if (t.up.failed || t.items.failed)
		rc = collect_failed(c);
	if (rc == 0 && c->json) {
		json_t *o = json_object();
		json_object_set(o, "upcoming", t.up.items);
		json_object_set(o, "items", t.items.items);
		json_object_set_new(o, "next_cursor",
				    next[0] ? json_string(next) : json_null());
		mpjson_print(stdout, o);
		json_decref(o);
	} else if (rc == 0) {
		human_timeline(t.up.items, t.items.items, next);
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
		return usage_error(c, NULL, "missing notification ID");
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

static int run_notifications(struct cli *c)
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
		return usage_error(c, NULL,
				   "unexpected argument '%.40s' (mark read "
				   "with: notifications read ID...)",
				   c->words[0]);
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

/* ---- rebuild ----------------------------------------------------------------- */

static int run_rebuild(struct cli *c)
{
	const char **names = c->many[O_PROJECTION];
	size_t n = c->many_len[O_PROJECTION], all_len;
	const tl_view *const *all = tl_views_all(&all_len);
	/* At 100% the log is read; the sorted views are being written. */
	struct progress p = { .unit = "events", .rate = "ev/s",
			      .after = ", writing the views" };
	json_t *rebuilt;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &p.start);
	rc = tl_rebuild(c->db, &c->ctx, names, n,
			isatty(2) ? show_progress : NULL, &p, &c->err);
	end_progress(&p, rc);
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

static int run_backup(struct cli *c)
{
	const char *dir = c->words[0];
	bool compact = has(c, O_COMPACT);
	tl_backup_info b;
	int rc = tl_db_backup(c->db, &c->ctx, dir,
			      compact ? TL_BACKUP_COMPACT : 0, &b, &c->err);

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
};

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

static int run_export(struct cli *c)
{
	struct exporter x = { .since = INT64_MIN, .until = INT64_MAX };
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
		return usage_error(c, "actor", "not a member id: \"%.64s\"",
				   x.actor.p);
	if (x.actor.p) {
		/* Arguments first, then this look-up.  Members are never
		 * removed: every actor of the log is one. */
		uint8_t *doc;
		size_t len;
		rc = tl_member_get(c->db, &c->ctx, x.actor, &doc, &len,
				   &c->err);
		if (rc == TL_ENOTFOUND)
			return tl_err_set(&c->err, TL_EINVALID, "actor",
					  "no member '%s'", c->val[O_ACTOR]);
		if (rc)
			return rc;
		free(doc);
	}
	x.buf = malloc(EXPORT_BUF);
	if (!stdout_open) {
		free(x.buf);
		return tl_err_set(&c->err, TL_ESTORAGE, "",
				  "the standard output is closed");
	}
	if (!x.buf)
		return cli_oom(c);
	rc = tl_log_read(c->db, &c->ctx, c->from, 0, opt_slice(c, O_STREAM),
			 export_event, &x, &c->err);
	export_flush(&x); /* whole lines, also before an error */
	free(x.buf);
	if (x.werr)
		return tl_err_set(&c->err, TL_ESTORAGE, "",
				  "writing the standard output: %s",
				  strerror(x.werr));
	if (rc == 1) /* the callback stopped: a record not converted */
		return x.nomem ? cli_oom(c) : collect_failed(c);
	return rc;
}

/* ---- import -------------------------------------------------------------- */

/* --format, --batch and the whole input into c->input. */
static int import_read(struct cli *c)
{
	const char *path = c->words[0];
	size_t cap = 0;
	int fd, rc = 0;

	if (!strcmp(path, "-")) {
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return usage_error(c, "file", "cannot open '%.200s': %s", path,
				   strerror(errno));
	} else {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return usage_error(c, "file", "'%.200s' is a directory",
					   path);
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
			rc = tl_err_set(&c->err, TL_ESTORAGE, "file",
					"reading '%.200s': %s", path,
					strerror(errno));
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
	bool events;
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
	if (say->c->json) {
		json_t *v = json_object();
		json_object_set_new(v, "imported",
				    json_integer((json_int_t)r->records));
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
static const import_out *import_progress;
static const char *import_unit = "line";

/* " (the 2 records before its batch were imported: seq 3..4)": what a
 * failed import's earlier batches made durable, into buf (snprintf's
 * allocation-free formats alone: parse_nomem uses it). */
static void batches_before(char *buf, size_t len, const import_out *r)
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

static int run_import(struct cli *c)
{
	struct import_say say = { .c = c, .events = has(c, O_EVENTS) };
	import_opts o = { .events = has(c, O_EVENTS),
			  .msgpack = c->msgpack,
			  .batch = c->batch,
			  .ctx = &c->ctx,
			  .ready = import_ready,
			  .arg = &say };
	import_out r;
	int rc;

	/* Imports are maintenance, an admin's job (SPEC §1), once the
	 * workspace has members (a new one takes its own from the log). */
	if (c->has_settings &&
	    (rc = tl_need_admin(c->db, &c->ctx,
				o.events ? "import --events" : "import",
				&c->err)))
		return rc;
	/* A bar on a terminal, as rebuild's: a large import takes a while,
	 * and at 100% its commit (the views' writes, the fsync) is left. */
	struct progress p = { .unit = "records", .rate = "rec/s",
			      .after = ", committing" };
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	if (isatty(STDERR_FILENO)) {
		o.progress = show_progress;
		o.progress_arg = &p;
	}
	import_progress = &r;
	import_unit = o.msgpack ? "record" : "line";
	rc = import_run(c->db, c->input, c->input_len, &o, &r, &c->err);
	import_progress = NULL;
	end_progress(&p, rc);
	if (rc) {
		/* What import_ready built is gone: a failure of its
		 * allocations (the error now said) taints nothing printed
		 * after. */
		free(say.text);
		mpjson_nomem_clear();
		membuf_nomem_clear();
		const char *unit = o.msgpack ? "record" : "line";
		if (r.where || r.committed)
			c->err_more = json_object();
		if (r.where)
			json_object_set_new(c->err_more, unit,
					    json_integer((json_int_t)r.where));
		if (r.committed) {
			/* what the batches before the failure made durable */
			size_t n = strlen(c->err.message);
			batches_before(c->err.message + n,
				       sizeof c->err.message - n, &r);
			json_object_set_new(
				c->err_more, "imported",
				json_integer((json_int_t)r.committed));
		}
		return rc;
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

static int run_verify(struct cli *c)
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
				   has(c, O_NO_VIEWS) ? TL_VERIFY_NO_VIEWS : 0,
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
	return print_verdict(c, problems, n == 0, h);
}

/* verify could not finish (the store failed, or it stopped after finding
 * problems): why is its last problem, and the error line on stderr. */
static void verify_stopped(struct cli *c, json_t *problems,
			   const char *subject)
{
	char line[sizeof c->err.field + sizeof c->err.message + 32];

	snprintf(line, sizeof line, "%s%s%s%s",
		 json_array_size(problems) ? "verify stopped: " : "",
		 c->err.field[0] ? c->err.field : "",
		 c->err.field[0] ? ": " : "", c->err.message);
	json_array_append_new(problems, json_string(line));
	error_line(c, subject);
}

/* verify's answer: "ok" when the engine counted no problem (ok), else
 * its problems (as {ok, problems} with --json); takes problems.  Problems
 * are the result: exit 5 with nothing more. */
static int print_verdict(struct cli *c, json_t *problems, bool ok,
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

static int run_stats(struct cli *c)
{
	tl_stats s;
	uint64_t file, free_bytes;
	char b1[32], b2[32], b3[32], b4[32];
	int rc = tl_db_stats(c->db, &c->ctx, &s, &c->err);

	if (rc || (rc = tl_db_space(c->db, &c->ctx, &file, &free_bytes,
				    &c->err)))
		return rc;
	if (c->json) {
		json_t *o = json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"events", (json_int_t)s.events,
			"tasks", (json_int_t)s.tasks,
			"active", (json_int_t)s.active,
			"members", (json_int_t)s.members,
			"last_seq", (json_int_t)s.last_seq,
			"map_size", (json_int_t)s.map_size,
			"map_used", (json_int_t)s.map_used,
			"file_size", (json_int_t)file,
			"file_free", (json_int_t)free_bytes);
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		printf("events     %" PRIu64 "\n", s.events);
		printf("tasks      %" PRIu64 "\n", s.tasks);
		printf("active     %" PRIu64 "\n", s.active);
		printf("members    %" PRIu64 "\n", s.members);
		printf("last_seq   %" PRIu64 "\n", s.last_seq);
		printf("map_size   %" PRIu64 "%s\n", s.map_size,
		       mib(s.map_size, b1));
		printf("map_used   %" PRIu64 "%s\n", s.map_used,
		       mib(s.map_used, b2));
		printf("file_size  %" PRIu64 "%s\n", file, mib(file, b3));
		printf("file_free  %" PRIu64 "%s%s\n", free_bytes,
		       mib(free_bytes, b4),
		       free_bytes > file / 4 ? ": backup --compact leaves it "
					       "out"
					     : "");
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

static bool is_group(const char *w)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i].group && !strcmp(commands[i].group, w))
			return true;
	return false;
}

static const struct command *find_command(const char *group,
					  const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *k = &commands[i];
		if ((group ? k->group && !strcmp(k->group, group) : !k->group) &&
		    !strcmp(k->name, name))
			return k;
	}
	return NULL;
}

static void print_group_usage(FILE *f, const char *group)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
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

/* Parse argv into c.  Returns 0, a negative code (c->err set), or
 * 1 when usage was printed and the exit status is in *status. */
static int parse_args(struct cli *c, int argc, char **argv, int *status)
{
	const char *group = NULL;
	bool dashdash = false;

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
			if (a[1] != '-')
				return usage_error(c, a,
						   "unknown option (write -- "
						   "before an argument that "
						   "begins with -)");
			name = a + 2;
			eq = strchr(name, '=');
			len = eq ? (size_t)(eq - name) : strlen(name);
			o = find_option(name, len);
			snprintf(shown, sizeof shown, "--%.*s", (int)len, name);
			if (o == O__COUNT || !(allowed & OPT(o)))
				return usage_error(c, shown, "unknown option%s%s",
						   c->cmd ? " for " : "",
						   c->cmd ? c->subject : "");
			if (optdefs[o].has_value) {
				if (eq)
					value = eq + 1;
				else if (i + 1 < argc &&
					 !names_option(argv[i + 1]))
					value = argv[++i];
				else if (i + 1 < argc)
					return usage_error(c, shown,
							   "requires a value (the next word, '%.40s', is an option; "
							   "write %s=VALUE for a value that begins with --)",
							   argv[i + 1], shown);
				else
					return usage_error(c, shown,
							   "requires a value");
			} else if (eq) {
				return usage_error(c, shown,
						   "takes no value");
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
				return usage_error(c, shown,
						   "given more than once");
			}
			c->val[o] = value ? value : "";
			continue;
		}

		if (c->cmd) {
			c->words[c->words_len++] = a;
		} else if (!group && is_group(a)) {
			group = a;
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
			if (!c->cmd)
				return usage_error(c, NULL, "unknown command");
		}
	}
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
			return usage_error(c, NULL, "missing subcommand (see "
					   "tasklog %s --help)", group);
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
			putchar('\n');
		}
		*status = 0;
		return 1;
	}

	if ((int)c->words_len < c->cmd->words_min) {
		/* "task ID and STATUS" with the ID given: name only the rest */
		const char *rest = strstr(c->cmd->words_name, " and ");
		return usage_error(c, NULL, "missing %s",
				   c->words_len && rest ? rest + 5
							: c->cmd->words_name);
	}
	if ((int)c->words_len > c->cmd->words_max &&
	    c->cmd->run == run_notifications && !strcmp(c->words[0], "read"))
		return usage_error(c, "ids", "at most %d notification ids at "
				   "a time",
				   c->cmd->words_max - 1);
	if ((int)c->words_len > c->cmd->words_max) {
		char shown[64];
		snprintf(shown, sizeof shown, "%s",
			 c->words[c->cmd->words_max]);
		return usage_error(c, NULL, "unexpected argument '%s'",
				   shown);
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
	if (has(c, O_FORMAT) && strcmp(c->val[O_FORMAT], "jsonl") &&
	    strcmp(c->val[O_FORMAT], "msgpack"))
		return usage_error(c, "format",
				   "must be jsonl or msgpack, not '%.40s'",
				   c->val[O_FORMAT]);
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
		put_fd(STDERR_FILENO, "tasklog: storage: ");
		put_fd(STDERR_FILENO, why);
		put_fd(STDERR_FILENO, "\n");
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
	put_fd(STDERR_FILENO, "tasklog: storage: ");
	put_fd(STDERR_FILENO, why);
	put_fd(STDERR_FILENO, "\n");
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
		if (!*end && !errno)
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

	mpjson_init(); /* before any other use of jansson */
	mpjson_on_parse_nomem(parse_nomem);
	catch_sigbus();

	/* Character classes only (display widths of text in tables);
	 * numbers and messages stay in the C locale. */
	setlocale(LC_CTYPE, "C.UTF-8");
	set_table_width();
	/* --version, alone or with --json: {"version":"0.3.17"} */
	bool version = argc == 2 && !strcmp(argv[1], "--version");
	bool version_json = argc == 3 &&
			    ((!strcmp(argv[1], "--version") &&
			      !strcmp(argv[2], "--json")) ||
			     (!strcmp(argv[1], "--json") &&
			      !strcmp(argv[2], "--version")));
	if (version || version_json) {
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
		say_oom(&c, false);
		return -TL_ESTORAGE;
	}
	stdout = mem;

	rc = parse_args(&c, argc, argv, &status);
	if (rc == 1)
		goto out;
	if (rc) {
		c.json = c.json || json_requested(argc, argv);
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
	    ((rc = workspace_there(&c)) || (rc = import_read(&c)))) {
		status = report_error(&c, c.subject);
		goto out;
	}
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
		if (!c.err.code)
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
	if (werr && done_durably) {
		say_done_anyway(strerror(werr));
	} else if (werr) { /* also after verify's problems, or an error */
		fprintf(stderr, "tasklog: writing the standard output: %s\n",
			strerror(werr));
		status = status ? status : -TL_ESTORAGE;
	}
	if (c.db)
		tl_db_close(c.db);
	free(c.tags);
	for (int o = 0; o < O__COUNT; o++)
		free(c.many[o]);
	free(c.words);
	free(c.input);
	json_decref(c.err_more);
	return status;
}
