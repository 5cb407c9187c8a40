/*
 * commands.c - the options and commands of `tasklog`: each command's
 * words, options and usage text, and the function that runs it (the
 * tables parse_args reads).
 */
#include "cli.h"

const struct optdef optdefs[O__COUNT] = {
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
	[O_REVOKE] = { "revoke", false },
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
	[O_FOLLOW] = { "follow", false },
	[O_FORMAT] = { "format", true },
	[O_EVENTS] = { "events", false },
	[O_REPLAY] = { "replay", false },
	[O_CHECK] = { "check", false },
	[O_BEFORE] = { "before", true },
	[O_BATCH] = { "batch", true },
	[O_UPCOMING_CURSOR] = { "upcoming-cursor", true },
};


#define TASK_WRITE(name_, usage_, opts_, min_, max_, words_, kind_) \
	{ "task", name_, usage_, (opts_) | WRITE_OPTS, min_, max_, words_, \
	  OPEN_WRITE, kind_, run_task_write }

const struct command commands[] = {
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
	  "usage: tasklog member list [--limit N] [--cursor C]\n\n"
	  "List the members: the system user, then by id.\n"
	  "  --limit N             members per page, 1..1000 (default 50)\n"
	  "  --cursor C            the next page (next_cursor of the last)\n",
	  OPT(O_LIMIT) | OPT(O_CURSOR), 0, 0, NULL, OPEN_READ, 0,
	  run_member_list },
	{ "member", "update",
	  "usage: tasklog member update ID [--name NAME] [--role admin|member]\n"
	  "                 [--crm-access|--no-crm-access] "
	  "[--idempotency-key K]\n\n"
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
	  "usage: tasklog member token ID [--revoke]\n\n"
	  "Make the member's access token for the server (admins only) and "
	  "print it,\n"
	  "this once: the workspace keeps its hash alone.  A new token "
	  "replaces the\n"
	  "member's last.\n"
	  "  --revoke              drop the member's token, make none\n",
	  OPT(O_REVOKE), 1, 1, "member ID", OPEN_WRITE, 0, run_member_token },

	TASK_WRITE("add",
		   "usage: tasklog task add --title T --link TYPE:ID "
		   "[--type TYPE] [--due TIME]\n"
		   "                 [--assignee ID] [--status S] [--notes N] "
		   "[--tag T]...\n"
		   "                 [--pipeline P] [--stage S] [--id UUID] "
		   "[--expect-version 0]\n"
		   "                 [--idempotency-key K]\n\n"
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
		   "  --expect-version 0    the task must not exist yet (with "
		   "--id)\n"
		   "  --idempotency-key K   a repeat returns the first result\n",
		   OPT(O_TITLE) | OPT(O_LINK) | OPT(O_TYPE) | OPT(O_DUE) |
			   OPT(O_ASSIGNEE) | OPT(O_STATUS) | OPT(O_NOTES) |
			   OPT(O_PIPELINE) | OPT(O_STAGE) | OPT(O_TAG) |
			   OPT(O_ID),
		   0, 0, NULL, TL_TASK_ADD),
	TASK_WRITE("update",
		   "usage: tasklog task update ID [--title T] [--type TYPE] "
		   "[--due TIME|--no-due]\n"
		   "                 [--notes N] [--expect-version N] "
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
	  "  --member ID           whose (default and me: yourself; any "
	  "member's;\n"
	  "                        unassigned: the tasks no one holds)\n"
	  "  --days N              how many days ahead (1..36600, default 7)\n"
	  "  --limit N             at most N tasks, 1..1000 (default 50)\n"
	  "  --cursor C            the next page: next_cursor of the page "
	  "before\n",
	  OPT(O_MEMBER) | OPT(O_DAYS) | OPT(O_LIMIT) | OPT(O_CURSOR), 0, 0,
	  NULL, OPEN_READ, 0, run_upcoming },
	{ NULL, "timeline",
	  "usage: tasklog timeline TYPE:ID [--limit N] [--cursor C] "
	  "[--upcoming-cursor C]\n\n"
	  "A record's timeline: its active tasks with a due date (overdue "
	  "ones too),\n"
	  "soonest first, then one entry per event of its tasks, newest "
	  "first.\n"
	  "  TYPE:ID               contact, lead, account or opportunity, "
	  "and its id\n"
	  "  --limit N             at most N upcoming tasks and N history "
	  "entries,\n"
	  "                        1..1000 (default 50)\n"
	  "  --cursor C            the next page of history: next_cursor of "
	  "the page before\n"
	  "  --upcoming-cursor C   the next upcoming tasks: "
	  "upcoming_next_cursor of the\n"
	  "                        page before (either cursor alone: that "
	  "list alone)\n",
	  OPT(O_LIMIT) | OPT(O_CURSOR) | OPT(O_UPCOMING_CURSOR), 1, 1, "record TYPE:ID", OPEN_READ, 0,
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
	  "  --limit N             at most N events, 1 to 1000 (default "
	  "50)\n"
	  "  --stream ID           only this stream (a task id, member:ID "
	  "or workspace)\n",
	  OPT(O_FROM) | OPT(O_LIMIT) | OPT(O_STREAM), 0, 0, NULL, OPEN_LOG, 0,
	  run_log },
	{ NULL, "export",
	  "usage: tasklog export [--from SEQ] [--stream ID] [--actor ID]\n"
	  "                      [--since TIME] [--until TIME] "
	  "[--format jsonl|msgpack]\n"
	  "                      [--follow]\n\n"
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
	  "parsa-assistant; me,\n"
	  "                        the acting member) made\n"
	  "  --since TIME          only events at or after TIME (their "
	  "\"at\")\n"
	  "  --until TIME          only events before TIME\n"
	  "  --format F            jsonl (default), or msgpack: each event's "
	  "stored record,\n"
	  "                        one after another (`import --format "
	  "msgpack --events`)\n"
	  "  --follow              then wait for new events and print them "
	  "as they are\n"
	  "                        committed, until interrupted (Ctrl-C: "
	  "exit 0)\n",
	  OPT(O_FROM) | OPT(O_STREAM) | OPT(O_ACTOR) | OPT(O_SINCE) |
		  OPT(O_UNTIL) | OPT(O_FORMAT) | OPT(O_FOLLOW),
	  0, 0, NULL, OPEN_LOG, 0, run_export },
	{ NULL, "import",
	  "usage: tasklog import FILE|- [--format jsonl|msgpack] [--events] "
	  "[--batch N]\n"
	  "                      [--check]\n\n"
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
	  "Admins only (but --events into a new workspace).  A progress bar "
	  "goes to\n"
	  "stderr when it is a terminal.\n"
	  "  --format F            jsonl (default: one JSON object per line) "
	  "or msgpack\n"
	  "                        (a sequence of maps)\n"
	  "  --events              the records are events (admins only), "
	  "not tasks\n"
	  "  --batch N             a durable commit every N records; a "
	  "failure then keeps\n"
	  "                        the batches before it\n"
	  "  --check               run every record against the workspace "
	  "in one\n"
	  "                        transaction and append nothing: what an "
	  "import would\n"
	  "                        refuse, or what it would append (needs an "
	  "existing\n"
	  "                        workspace; --batch is ignored)\n"
	  "A task record holds the fields of `task show --json`: title, "
	  "link ({type, id}\n"
	  "or \"TYPE:ID\"), type, status, due_at (any time --due takes), "
	  "assignee, notes,\n"
	  "tags, id, and idempotency_key; created_at, created_by, "
	  "updated_at,\n"
	  "completed_at and version are left to the import's own events.\n"
	  "A command record is {\"method\": \"task.update\", \"params\": "
	  "{\"id\": ID, ...}}:\n"
	  "task.add|update|assign|status|complete|reopen|tag|untag|delete,\n"
	  "member.add|update or notifications.read; its params are the "
	  "command's long\n"
	  "options with _ for - and its words by name (id, assignee, status, "
	  "tag, ids;\n"
	  "expect_version, no_due: true, crm_access: false, ...): see "
	  "docs/cli.md, import.\n",
	  OPT(O_FORMAT) | OPT(O_EVENTS) | OPT(O_BATCH) |
		  OPT(O_CHECK), 1, 1, "FILE (or -)",
	  OPEN_IMPORT, 0, run_import },
	{ NULL, "verify",
	  "usage: tasklog verify [--no-views] [--replay] [--expect-head "
	  "SEQ:HASH]\n\n"
	  "Check the hash chain, seq contiguity, stream versions, that the\n"
	  "stored state equals a fresh fold of the log, that each event is one\n"
	  "import --events takes, that the settings are event 1's, and every\n"
	  "view.  Exit 5 on a problem (a view it could not compare is one).\n"
	  "Admins only.  Prints the head (its seq and hash) that it checked\n"
	  "the log up to.\n"
	  "A progress bar of its steps goes to stderr when it is a terminal.\n"
	  "  --no-views            check all but the views (which a read-only\n"
	  "                        access cannot compare)\n"
	  "  --replay              then, when all is clean, import the log "
	  "again\n"
	  "                        into a temporary workspace ($TMPDIR) "
	  "through\n"
	  "                        every check of import --events, those "
	  "that\n"
	  "                        need the state each event met too\n"
	  "  --expect-head SEQ:HASH  a head an earlier verify printed: the "
	  "event\n"
	  "                        SEQ must still be there with that hash "
	  "(so the\n"
	  "                        log up to it is unchanged)\n",
	  OPT(O_NO_VIEWS) | OPT(O_REPLAY) | OPT(O_EXPECT_HEAD), 0, 0, NULL,
	  OPEN_LOG, 0, run_verify },
	{ NULL, "stats",
	  "usage: tasklog stats\n\nCounts and sizes of the workspace.\n",
	  0, 0, 0, NULL, OPEN_READ, 0, run_stats },
	{ "idempotency", "prune",
	  "usage: tasklog idempotency prune --before TIME [--check]\n\n"
	  "Forget the idempotency keys of requests made before TIME (admins "
	  "only): a\n"
	  "retry under such a key then runs as a new request.  A request's "
	  "time is that\n"
	  "of the last event it appended; one that changed nothing was made "
	  "before its\n"
	  "task's (or member's) next event, and is kept while there is none.  "
	  "Appends\n"
	  "nothing to the log; `stats` counts the keys.\n"
	  "  --before TIME         the cutoff (any time --due takes: "
	  "-30d, 2026-11-01)\n"
	  "  --check               count what it would prune, remove "
	  "nothing\n",
	  OPT(O_BEFORE) | OPT(O_CHECK), 0, 0, NULL, OPEN_WRITE, 0,
	  run_idem_prune },
};
const size_t n_commands = sizeof commands / sizeof commands[0];

/* Options that a command takes more than once (--tag aside): the values
 * of one filter, OR-combined. */
uint64_t repeat_opts(const struct command *k)
{
	if (k && k->run == run_task_list)
		return OPT(O_ASSIGNEE) | OPT(O_STATUS) | OPT(O_ENTITY_TYPE) |
		       OPT(O_TYPE) | OPT(O_DUE) | OPT(O_SEARCH);
	if (k && k->run == run_rebuild)
		return OPT(O_PROJECTION);
	return 0;
}

const char overall_usage[] =
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
	"  idempotency prune         forget the keys of old requests\n"
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

