/*
 * human.c - the command line's output for people.
 *
 * Documents come here already converted to JSON values (json.c); this file
 * lays them out: a task or member as "Key  value" lines, lists of tasks,
 * members, timeline entries and notifications as tables that fit an
 * 80-column terminal, with the labels of the CRM ("To Do", "Follow Up").
 * Text from the workspace is written through put_clean(), so a title
 * cannot move the cursor or reorder the line it is printed on.  Everything
 * goes to stdout, which main() points at a buffer in memory.  Times are
 * shown on the wall clock of the zone human_zone() names (the workspace's,
 * or --tz): tables to the minute under a heading that names the zone,
 * a task's or event's times in full with their offset.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <utf8proc.h>

#include "human.h"
#include "membuf.h"
#include "tasklog.h"

/* Write the len bytes at s to f with control characters and bytes that
 * are not UTF-8 escaped as \xNN, so that an error stays on one line
 * whatever value it quotes. */
void put_clean_n(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	bool escaped = false; /* the last character was */
	for (; p < end; p++) {
		/* A whole UTF-8 character passes, but for C1 controls
		 * (U+0080..U+009F), the line and paragraph separators
		 * (U+2028, U+2029: line breaks, which a cell or an error
		 * line must not hold) and the bidirectional overrides and
		 * isolates (U+202A..U+202E, U+2066..U+2069), which a
		 * terminal acts on; a stray byte does not.  The other
		 * invisible format characters pass: the joiners shape
		 * Persian and Indic text and emoji, and the marks LRM, RLM
		 * and ALM order mixed-direction text within their run. */
		size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
		bool whole = n <= (size_t)(end - p) &&
			     tl_utf8_valid((const char *)p, n);
		bool acts = whole &&
			    ((p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
			     (p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xa8 &&
			      p[2] <= 0xae) ||
			     (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 &&
			      p[2] <= 0xa9));
		/* A mark after an escape would sit on its last hex digit
		 * (an accent on the "e" of "\xae"): escaped too (since
		 * 0.3.51). */
		if (n > 1 && whole && !acts && escaped) {
			utf8proc_int32_t cp;
			utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
			utf8proc_category_t c = utf8proc_category(cp);
			acts = c == UTF8PROC_CATEGORY_MN ||
			       c == UTF8PROC_CATEGORY_ME ||
			       c == UTF8PROC_CATEGORY_MC;
		}
		if (n > 1 && whole && !acts) {
			fwrite(p, 1, n, f);
			p += n - 1;
			escaped = false;
		} else if (n > 1 && whole) {
			for (size_t k = 0; k < n; k++)
				fprintf(f, "\\x%02x", p[k]);
			p += n - 1;
			escaped = true;
		} else if (*p < 0x20 || *p >= 0x7f) {
			fprintf(f, "\\x%02x", *p);
			escaped = true;
		} else {
			fputc(*p, f);
			escaped = false;
		}
	}
}

void put_clean(FILE *f, const char *s)
{
	put_clean_n(f, s, strlen(s));
}

static const char *label(const char *token, const char *const table[][2])
{
	for (size_t i = 0; table[i][0]; i++)
		if (!strcmp(token, table[i][0]))
			return table[i][1];
	return token;
}

static const char *const type_labels[][2] = {
	{ "call", "Call" },         { "email", "Email" },
	{ "message", "Message" },   { "meeting", "Meeting" },
	{ "chat", "Chat" },         { "proposal", "Proposal" },
	{ "note", "Note" },         { "task", "Task" },
	{ "follow_up", "Follow Up" }, { "demo", "Demo" },
	{ NULL, NULL }
};

static const char *const status_labels[][2] = {
	{ "todo", "To Do" },         { "in_progress", "In Progress" },
	{ "on_hold", "On Hold" },    { "completed", "Completed" },
	{ "cancelled", "Cancelled" }, { NULL, NULL }
};

/* The text of a string member, "-" when it is null or missing. */
static const char *str_or_dash(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

/* NULL: UTC. */
static const char *zone;
#define ZONE_HEADING_MAX 14
/* "2026-10-25 02:30 +02:00" and its NUL */
#define SHORT_TIME_MAX 24

void human_zone(const char *tz)
{
	zone = tz && strcmp(tz, "UTC") ? tz : NULL;
}

/* Whether ms is shown in UTC though the zone is not UTC's: its wall clock
 * would pass year 9999, which times are not written past (the column's
 * heading names the zone: such a time then says UTC). */
static bool wall_past_9999(int64_t ms)
{
	char at[48], y2k[48];
	if (!zone || tl_time_format_zone(ms, zone, at) ||
	    at[strlen(at) - 1] != 'Z')
		return false;
	/* 'Z' also for a zone that is UTC by another name (Etc/UTC) */
	return !tl_time_format_zone(INT64_C(946684800000), zone, y2k) &&
	       y2k[strlen(y2k) - 1] != 'Z';
}

/* A heading for a column of times: "DUE (UTC)", "DUE (Europe/Berlin)". */
static const char *time_heading(const char *what, char *buf, size_t cap)
{
	const char *name = zone ? zone : "UTC", *last = strrchr(name, '/');

	/* At most 14 characters, so that a table of the widest columns
	 * still fits 80 with the title's least: America/New_York reads
	 * New_York. */
	if (last && strlen(name) > ZONE_HEADING_MAX)
		name = last + 1;
	snprintf(buf, cap, "%s (%.*s)", what, ZONE_HEADING_MAX, name);
	return buf;
}

/* A time column: as wide as its times, or its heading. */
static size_t time_width(const char *heading)
{
	size_t n = strlen(heading);
	return n > 16 ? n : 16;
}

/* "2026-03-02T09:00:00.000Z" on the zone's wall clock, in full with its
 * offset ("2026-03-02T10:00:00.000+01:00"); as it is in UTC, or if it does
 * not parse. */
static void full_time(const char *t, char out[48])
{
	int64_t ms;
	tl_err err = { .index = -1 };

	if (!zone || tl_time_parse(tl_s(t), 0, NULL, "at", &ms, &err) ||
	    tl_time_format_zone(ms, zone, out))
		snprintf(out, 48, "%s", t);
}

static const char *str_time(const json_t *o, const char *key, char out[48])
{
	full_time(str_or_dash(o, key), out);
	return out;
}

static void kv_line(const char *key, const char *value)
{
	printf("%-12s", key);
	put_clean(stdout, value);
	putchar('\n');
}

/* Notes, each line indented.  They may hold any character but NUL: tabs
 * are kept, a CR before a line feed is dropped, and every other control
 * (and what a terminal acts on) is escaped by put_clean_n(). */
static void put_notes(const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\n");
		size_t end = n && s[n] == '\n' && s[n - 1] == '\r' ? n - 1 : n;
		fputs("    ", stdout);
		for (size_t i = 0; i < end;) {
			const char *tab = memchr(s + i, '\t', end - i);
			size_t run = tab ? (size_t)(tab - (s + i)) : end - i;
			put_clean_n(stdout, s + i, run);
			i += run;
			if (i < end) { /* s[i] is a tab */
				putchar('\t');
				i++;
			}
		}
		putchar('\n');
		s += n + (s[n] == '\n');
	}
}

void human_task(const json_t *t)
{
	const json_t *link = json_object_get(t, "link");
	const json_t *by = json_object_get(t, "created_by");
	const json_t *tags = json_object_get(t, "tags");
	const json_t *autom = json_object_get(t, "automation");
	const json_t *notes = json_object_get(t, "notes");
	char buf[512], when[48];
	size_t i;
	json_t *tag;

	kv_line("ID", str_or_dash(t, "id"));
	kv_line("Title", str_or_dash(t, "title"));
	kv_line("Type", label(str_or_dash(t, "type"), type_labels));
	kv_line("Status", label(str_or_dash(t, "status"), status_labels));
	kv_line("Due", str_time(t, "due_at", when));
	kv_line("Assignee", str_or_dash(t, "assignee"));
	snprintf(buf, sizeof buf, "%s:%s", str_or_dash(link, "type"),
		 str_or_dash(link, "id"));
	kv_line("Record", buf);
	if (json_object_get(t, "pipeline") &&
	    !json_is_null(json_object_get(t, "pipeline"))) {
		kv_line("Pipeline", str_or_dash(t, "pipeline"));
		kv_line("Stage", str_or_dash(t, "stage"));
	}
	printf("%-12s", "Tags");
	json_array_foreach(tags, i, tag) {
		fputs(i ? ", " : "", stdout);
		put_clean(stdout, json_string_value(tag) ? json_string_value(tag)
							 : "");
	}
	puts(json_array_size(tags) ? "" : "-");
	snprintf(buf, sizeof buf, "%s by %s%s", str_time(t, "created_at", when),
		 str_or_dash(by, "id"),
		 !strcmp(str_or_dash(by, "kind"), "system") ? " (system)" : "");
	kv_line("Created", buf);
	kv_line("Updated", str_time(t, "updated_at", when));
	kv_line("Completed", str_time(t, "completed_at", when));
	if (json_is_object(autom)) {
		snprintf(buf, sizeof buf, "rule %s step %" JSON_INTEGER_FORMAT
			 ", %s, %s, %" JSON_INTEGER_FORMAT " attempts",
			 str_or_dash(autom, "rule"),
			 json_integer_value(json_object_get(autom, "step")),
			 str_or_dash(autom, "action"),
			 str_or_dash(autom, "state"),
			 json_integer_value(json_object_get(autom, "attempts")));
		kv_line("Automation", buf);
	}
	if (json_is_true(json_object_get(t, "deleted")))
		kv_line("Deleted", "yes");
	snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(t, "version")));
	kv_line("Version", buf);
	if (json_is_string(notes)) {
		printf("Notes\n");
		put_notes(json_string_value(notes));
	}
}

void human_member(const json_t *m)
{
	kv_line("ID", str_or_dash(m, "id"));
	kv_line("Name", str_or_dash(m, "name"));
	kv_line("Role", str_or_dash(m, "role"));
	kv_line("CRM access",
		json_is_true(json_object_get(m, "crm_access")) ? "yes" : "no");
	kv_line("Kind", str_or_dash(m, "kind"));
}

void human_events(const json_t *events)
{
	/* Columns as wide as their widest value: a task's stream is 36
	 * bytes, a member's "member:" and an id of up to 64.  Event types,
	 * streams and actor ids are ASCII, one column a byte. */
	int wt = 22, ws = 36, wq = 6, wa = 0;
	size_t i;
	const json_t *e;
	/* The seq and the time too (before 0.3.51 a fixed 6 digits, and
	 * times as long as they came: a zone's offset of seconds, or the
	 * UTC form past 9999, shifted a row's later columns). */
	json_array_foreach(events, i, e) {
		char when[48], seq[24];
		size_t t = strlen(str_or_dash(e, "type")),
		       s = strlen(str_or_dash(e, "stream")),
		       a = strlen(str_time(e, "at", when)),
		       q = (size_t)snprintf(seq, sizeof seq,
					    "%" JSON_INTEGER_FORMAT,
					    json_integer_value(json_object_get(
						    e, "seq")));
		if (t > (size_t)wt && t < 256)
			wt = (int)t;
		if (s > (size_t)ws && s < 256)
			ws = (int)s;
		if (a > (size_t)wa && a < sizeof when)
			wa = (int)a;
		if (q > (size_t)wq && q < sizeof seq)
			wq = (int)q;
	}
	json_array_foreach(events, i, e) {
		const json_t *actor = json_object_get(e, "actor");
		char when[48];
		printf("%*" JSON_INTEGER_FORMAT "  %-*s  %-*s  %-*s  %s\n", wq,
		       json_integer_value(json_object_get(e, "seq")), wa,
		       str_time(e, "at", when), wt, str_or_dash(e, "type"),
		       ws, str_or_dash(e, "stream"), str_or_dash(actor, "id"));
	}
}

/* Tasks as a table that fits an 80-column terminal (or a wider one,
 * human_width): ID (the last 8 characters), DUE (UTC, to the minute),
 * STATUS, TYPE, ASSIGNEE, in 100 columns or more the RECORD, and as much
 * of the TITLE as fits, cut with an ellipsis.  Widths are terminal
 * columns: wide characters (CJK, most emoji) take two, combining marks
 * none (the C library's wcwidth in the C.UTF-8 locale, see main). */
#define TABLE_WIDTH 80
#define TABLE_WIDTH_MAX 1000
#define ASSIGNEE_WIDTH_MAX 12
#define TITLE_WIDTH_MIN 10

static size_t table_width = TABLE_WIDTH;

void human_width(long cols)
{
	table_width = cols <= TABLE_WIDTH ? TABLE_WIDTH
		      : cols >= TABLE_WIDTH_MAX ? TABLE_WIDTH_MAX
						: (size_t)cols;
}

/* The last column, a title: what `used` columns leave of the table, but
 * at least TITLE_WIDTH_MIN. */
static size_t title_width(size_t used)
{
	return used + TITLE_WIDTH_MIN < table_width ? table_width - used
						    : TITLE_WIDTH_MIN;
}

/* The code point at s (valid UTF-8: the engine stores no other) and its
 * byte length in *len. */
static uint32_t utf8_next(const char *s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (p[0] < 0x80 || !p[1]) {
		*len = 1;
		return p[0];
	}
	size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	uint32_t cp = p[0] & (0x7f >> n);
	size_t i;
	for (i = 1; i < n && (p[i] & 0xc0) == 0x80; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	*len = i;
	return cp;
}

/* Columns of one code point: 0 for combining marks, 2 for wide ones, 1
 * for what the C library does not know (no UTF-8 locale, unassigned). */
static size_t cp_width(uint32_t cp)
{
	int w = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
	return w < 0 ? 1 : (size_t)w;
}

static size_t raw_width(const char *s)
{
	size_t w = 0, len;
	for (; *s; s += len)
		w += cp_width(utf8_next(s, &len));
	return w;
}

/* s as tables print it: what a terminal would act on (C1 controls, line
 * separators, bidirectional overrides and isolates) escaped as put_clean() does, so
 * that a title cannot reorder or hide the rest of its line.  malloc'd;
 * NULL when out of memory. */
static char *cell_text(const char *s)
{
	membuf m;
	FILE *f = membuf_open(&m);
	if (f)
		put_clean(f, s);
	if (!membuf_close(f, &m))
		return NULL; /* the page is not printed then: membuf_nomem() */
	return m.p ? m.p : strdup("");
}

/* Columns that s takes in a table. */
static size_t text_width(const char *s)
{
	char *t = cell_text(s);
	size_t w = raw_width(t ? t : s);
	free(t);
	return w;
}

/* The byte value of an escape \xNN at s, or -1 when s holds none. */
static int escape_at(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (s[0] != '\\' || s[1] != 'x' || !isxdigit((unsigned char)s[2]) ||
	    !isxdigit((unsigned char)s[3]))
		return -1;
	return (int)(strchr(hex, tolower((unsigned char)s[2])) - hex) << 4 |
	       (int)(strchr(hex, tolower((unsigned char)s[3])) - hex);
}

/* The byte length of the longest prefix of s at most `cols` wide; its
 * width in *width.  s comes from cell_text(): the escapes it made of one
 * character ("\xe2\x80\xae" for U+202E) are kept together or left out,
 * never cut, as is any single escape (a title's own "\x41" alike).  The
 * prefix ends between two characters as a reader sees them (grapheme
 * clusters, utf8proc's rules: a letter with its accents, a flag's two
 * regional indicators, an emoji sequence joined by U+200D; since 0.3.30,
 * as the timeline's quotes do), unless one cluster alone is wider than
 * cols; an escape is a cluster of its own. */
static size_t text_prefix(const char *s, size_t cols, size_t *width)
{
	size_t i = 0, w = 0, len, brk = 0, brk_w = 0;
	utf8proc_int32_t prev = -1, state = 0;
	while (s[i]) {
		size_t cw;
		bool starts; /* a cluster starts at i */
		int b = escape_at(s + i);
		if (b >= 0) {
			/* a lead byte's escape and its continuations' */
			size_t n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 :
				   b >= 0xc0 ? 2 : 1, k = 1;
			int c;
			while (k < n && (c = escape_at(s + i + 4 * k)) >= 0x80 &&
			       c < 0xc0)
				k++;
			cw = len = 4 * k;
			starts = true;
			prev = -1;
			state = 0;
		} else {
			utf8proc_int32_t cp =
				(utf8proc_int32_t)utf8_next(s + i, &len);
			cw = cp_width((uint32_t)cp);
			starts = prev < 0 ||
				 utf8proc_grapheme_break_stateful(prev, cp,
								  &state);
			prev = cp;
		}
		if (starts) {
			brk = i;
			brk_w = w;
		}
		if (w + cw > cols) {
			if (brk > 0) { /* back to where the cluster began */
				i = brk;
				w = brk_w;
			}
			break;
		}
		w += cw;
		i += len;
	}
	*width = w;
	return i;
}

/* The last 8 characters of a UUID for tables: UUIDv7s made within a
 * minute share their first 8, while their ends are random. */
static void short_id(const char *id, char *out, size_t cap)
{
	size_t n = strlen(id);
	snprintf(out, cap, "%s", n > 8 ? id + n - 8 : id);
}

/* Whether the zone's clock shows the wall time of ms at another instant
 * too: in the hour it repeats when it falls back (a shift of 30 minutes
 * to 2 hours, as zones have had). */
static bool repeated_wall_time(int64_t ms)
{
	static const int64_t shifts[] = { 1800000, 3600000, 7200000 };
	char at[48], other[48];

	if (!zone || tl_time_format_zone(ms, zone, at) || strlen(at) < 23)
		return false;
	for (size_t i = 0; i < 2 * sizeof shifts / sizeof *shifts; i++) {
		int64_t d = shifts[i / 2] * (i % 2 ? -1 : 1);
		if (!tl_time_format_zone(ms + d, zone, other) &&
		    !strncmp(at, other, 23))
			return true;
	}
	return false;
}

/* "2026-03-02T09:00:00.000Z" as "2026-03-02 09:00" (to the minute, on
 * the zone's wall clock), with the offset when the clock shows that
 * minute twice ("2026-10-25 02:30 +02:00", then "... +01:00"), so that
 * the repeated hour's times do not read as out of order. */
static void short_time(const char *t, char out[SHORT_TIME_MAX])
{
	char full[48];
	int64_t ms;
	tl_err err = { .index = -1 };

	full_time(t, full);
	size_t n = strlen(full);
	if (n < 16 || full[10] != 'T') {
		snprintf(out, SHORT_TIME_MAX, "%.16s", full);
		return;
	}
	if (!tl_time_parse(tl_s(t), 0, NULL, "at", &ms, &err) &&
	    wall_past_9999(ms)) {
		snprintf(out, SHORT_TIME_MAX, "%.10s %.5s UTC", full,
			 full + 11);
		return;
	}
	if (n >= 29 && (full[n - 6] == '+' || full[n - 6] == '-') &&
	    !tl_time_parse(tl_s(t), 0, NULL, "at", &ms, &err) &&
	    repeated_wall_time(ms))
		snprintf(out, SHORT_TIME_MAX, "%.10s %.5s %s", full, full + 11,
			 full + n - 6);
	else
		snprintf(out, SHORT_TIME_MAX, "%.10s %.5s", full, full + 11);
}

/* The width of a time column: its heading's, or its times' (16, or 23
 * with an offset in a repeated hour). */
static size_t times_width(const char *heading, const json_t *rows,
			  const char *key)
{
	size_t i, w = time_width(heading);
	const json_t *r;
	char when[SHORT_TIME_MAX];

	json_array_foreach(rows, i, r) {
		short_time(str_or_dash(r, key), when);
		if (strlen(when) > w)
			w = strlen(when);
	}
	return w;
}

/* s in a column w wide: cut with "…" when wider, padded with spaces
 * unless it is the last column. */
static void put_cell(const char *raw, size_t w, bool last)
{
	char *t = cell_text(raw);
	const char *s = t ? t : raw;
	size_t n = raw_width(s);

	if (n > w) {
		fwrite(s, 1, text_prefix(s, w - 1, &n), stdout);
		fputs("\xe2\x80\xa6", stdout); /* … */
		n++;
	} else {
		fputs(s, stdout);
	}
	if (!last)
		printf("%*s", (int)(w - n + 2), "");
	free(t);
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* A task's record, "lead:42", into buf. */
static const char *record_of(const json_t *t, char *buf, size_t cap)
{
	const json_t *link = json_object_get(t, "link");
	snprintf(buf, cap, "%s:%s", str_or_dash(link, "type"),
		 str_or_dash(link, "id"));
	return buf;
}

/* A RECORD column, before the title, in a table of at least this width
 * (80 columns have no room for it). */
#define RECORD_TABLE_MIN 100
#define RECORD_WIDTH_MAX 32
#define RECORD_WIDTH_MIN 12
#define RECORD_TITLE_MIN 20

/* The task table; with_record: a RECORD column when there is room (not in
 * a timeline, whose tasks share one record). */
static void task_table(const json_t *items, const char *next,
		       bool with_record)
{
	size_t i, w_status = 6, w_type = 4, w_who = 8, used, w_title, w_due;
	size_t w_rec = 6; /* "RECORD"; 0: no such column */
	const json_t *t;
	char heading[96], rec[160];

	time_heading("DUE", heading, sizeof heading);
	w_due = times_width(heading, items, "due_at");

	json_array_foreach(items, i, t) {
		w_status = max_size(w_status,
				    text_width(label(str_or_dash(t, "status"),
						     status_labels)));
		w_type = max_size(w_type,
				  text_width(label(str_or_dash(t, "type"),
						   type_labels)));
		w_who = max_size(w_who,
				 text_width(str_or_dash(t, "assignee")));
		w_rec = max_size(w_rec,
				 text_width(record_of(t, rec, sizeof rec)));
	}
	/* 12 columns in 80, and a third of what a wider table has more, up
	 * to a whole member id (64, from 236 columns on: the title and the
	 * record keep the rest; a walk-through found a 64-character id
	 * leaving the title 9 columns and no record in 90 to 150); less by
	 * what the due column takes past its usual width (its offset in a
	 * repeated hour), but not under the heading's 8 */
	size_t most = ASSIGNEE_WIDTH_MAX + (table_width - TABLE_WIDTH) / 3,
	       wider = w_due - time_width(heading);
	most = most > 64 ? 64 : most;
	most = most > wider + 8 ? most - wider : 8;
	if (w_who > most)
		w_who = most;
	used = (8 + 2) + (w_due + 2) + (w_status + 2) + (w_type + 2) +
	       (w_who + 2);
	/* The record when the table is wide enough to keep some title: as
	 * wide as it is, up to RECORD_WIDTH_MAX, narrower (cut) to leave the
	 * title RECORD_TITLE_MIN, but not cut under RECORD_WIDTH_MIN (a
	 * column of short records, all of them whole, is kept: it was
	 * dropped when none reached RECORD_WIDTH_MIN). */
	size_t want = min_size(w_rec, RECORD_WIDTH_MAX);
	w_rec = min_size(want, used + 2 + RECORD_TITLE_MIN < table_width
				       ? table_width - used - 2 -
						 RECORD_TITLE_MIN
				       : 0);
	if (!with_record || table_width < RECORD_TABLE_MIN ||
	    w_rec < min_size(want, RECORD_WIDTH_MIN))
		w_rec = 0;
	else
		used += w_rec + 2;
	w_title = title_width(used);

	put_cell("ID", 8, false);
	put_cell(heading, w_due, false);
	put_cell("STATUS", w_status, false);
	put_cell("TYPE", w_type, false);
	put_cell("ASSIGNEE", w_who, false);
	if (w_rec)
		put_cell("RECORD", w_rec, false);
	put_cell("TITLE", w_title, true);
	putchar('\n');
	json_array_foreach(items, i, t) {
		const char *due = str_or_dash(t, "due_at");
		char id[9], when[SHORT_TIME_MAX];

		short_id(str_or_dash(t, "id"), id, sizeof id);
		short_time(due, when);
		put_cell(id, 8, false);
		put_cell(when, w_due, false);
		put_cell(label(str_or_dash(t, "status"), status_labels),
			 w_status, false);
		put_cell(label(str_or_dash(t, "type"), type_labels), w_type,
			 false);
		put_cell(str_or_dash(t, "assignee"), w_who, false);
		if (w_rec)
			put_cell(record_of(t, rec, sizeof rec), w_rec, false);
		put_cell(str_or_dash(t, "title"), w_title, true);
		putchar('\n');
	}
	if (next && next[0])
		printf("next page: --cursor %s\n", next);
}

void human_task_table(const json_t *items, const char *next)
{
	task_table(items, next, true);
}

/* Members as a table: ID, NAME, ROLE, CRM (yes/no) and KIND. */
void human_member_table(const json_t *items)
{
	size_t i, w_id = 2, w_name = 4;
	const json_t *m;

	json_array_foreach(items, i, m) {
		w_id = max_size(w_id, text_width(str_or_dash(m, "id")));
		w_name = max_size(w_name, text_width(str_or_dash(m, "name")));
	}
	/* Within the table's width: an id up to 32 columns in 80 (a whole
	 * one, 64, in a wider table), the name what ROLE, CRM and KIND (23
	 * with their gaps) leave, at least 10. */
	size_t most = 32 + (table_width - TABLE_WIDTH);
	w_id = min_size(w_id, most > 64 ? 64 : most);
	most = table_width - 23 - w_id;
	w_name = min_size(w_name, most > 10 ? most : 10);
	put_cell("ID", w_id, false);
	put_cell("NAME", w_name, false);
	printf("%-6s  %-3s  %s\n", "ROLE", "CRM", "KIND");
	json_array_foreach(items, i, m) {
		put_cell(str_or_dash(m, "id"), w_id, false);
		put_cell(str_or_dash(m, "name"), w_name, false);
		printf("%-6s  %-3s  %s\n", str_or_dash(m, "role"),
		       json_is_true(json_object_get(m, "crm_access")) ? "yes"
								     : "no",
		       str_or_dash(m, "kind"));
	}
}

/* The ACTOR column of a list of events or timeline entries: as wide as
 * its widest actor id, from 5 ("ACTOR") to 16 columns in 80, and up to
 * 64 (a whole member id) in a wider table (so is the BY column of the
 * notifications). */
static size_t actor_most(void)
{
	size_t most = 16 + (table_width - TABLE_WIDTH);
	return most > 64 ? 64 : most;
}

static size_t actor_width(const json_t *items)
{
	size_t i, w = 5, most = actor_most();
	const json_t *e;
	json_array_foreach(items, i, e)
		w = max_size(w, text_width(str_or_dash(json_object_get(e,
							"actor"), "id")));
	return w > most ? most : w;
}

/* Upcoming tasks as the task table, then the history (items NULL: not
 * read, not shown): AT, ACTOR and as much of the SUMMARY as fits the
 * table's width. */
void human_timeline(const json_t *up, const char *up_next,
		    const json_t *items, const char *next)
{
	size_t i, w_actor = actor_width(items), w_sum, w_at;
	const json_t *e;
	char when[SHORT_TIME_MAX], heading[96];

	if (json_array_size(up) || !items) {
		puts("Upcoming");
		task_table(up, NULL, false);
		if (up_next && up_next[0])
			printf("more upcoming: --upcoming-cursor %s\n",
			       up_next);
		if (items)
			putchar('\n');
	}
	if (!items)
		return;
	puts("History");
	time_heading("AT", heading, sizeof heading);
	w_at = times_width(heading, items, "at");
	/* TASK: the end of its id, as the task table shows it */
	w_sum = table_width - (w_at + 2) - (w_actor + 2) - (8 + 2);
	put_cell(heading, w_at, false);
	put_cell("ACTOR", w_actor, false);
	put_cell("TASK", 8, false);
	put_cell("SUMMARY", w_sum, true);
	putchar('\n');
	json_array_foreach(items, i, e) {
		char task[16];
		short_time(str_or_dash(e, "at"), when);
		put_cell(when, w_at, false);
		put_cell(str_or_dash(json_object_get(e, "actor"), "id"),
			 w_actor, false);
		short_id(str_or_dash(e, "task"), task, sizeof task);
		put_cell(task, 8, false);
		put_cell(str_or_dash(e, "summary"), w_sum, true);
		putchar('\n');
	}
	if (next && next[0])
		printf("next page: --cursor %s\n", next);
}

/* ID, STATE (new or read), AT, BY, the TASK (the last 8 characters of
 * its id, as in the task table) and its TITLE, as much as fits. */
void human_notifications(const json_t *items, const char *next)
{
	size_t i, w_id = 2, w_by = 2, w_at, used, w_title;
	const json_t *n;
	char id[24], when[SHORT_TIME_MAX], task[9], heading[96];

	time_heading("AT", heading, sizeof heading);
	w_at = times_width(heading, items, "at");

	json_array_foreach(items, i, n) {
		w_id = max_size(w_id, (size_t)snprintf(id, sizeof id,
			"%" JSON_INTEGER_FORMAT,
			json_integer_value(json_object_get(n, "id"))));
		w_by = max_size(w_by, text_width(str_or_dash(n, "by")));
	}
	if (w_by > actor_most()) /* an actor id, as in ACTOR columns */
		w_by = actor_most();
	used = (w_id + 2) + (5 + 2) + (w_at + 2) + (w_by + 2) + (8 + 2);
	w_title = title_width(used);
	printf("%*s  ", (int)w_id, "ID");
	put_cell("STATE", 5, false);
	put_cell(heading, w_at, false);
	put_cell("BY", w_by, false);
	put_cell("TASK", 8, false);
	put_cell("TITLE", w_title, true);
	putchar('\n');
	json_array_foreach(items, i, n) {
		printf("%*" JSON_INTEGER_FORMAT "  ", (int)w_id,
		       json_integer_value(json_object_get(n, "id")));
		put_cell(json_is_true(json_object_get(n, "read")) ? "read"
								   : "new",
			 5, false);
		short_time(str_or_dash(n, "at"), when);
		put_cell(when, w_at, false);
		put_cell(str_or_dash(n, "by"), w_by, false);
		short_id(str_or_dash(n, "task"), task, sizeof task);
		put_cell(task, 8, false);
		put_cell(str_or_dash(n, "title"), w_title, true);
		putchar('\n');
	}
	if (next && next[0])
		printf("next page: --cursor %s\n", next);
}

void human_marked(const json_t *r)
{
	size_t i;
	const json_t *id;

	printf("marked read for %s:", str_or_dash(r, "member"));
	json_array_foreach(json_object_get(r, "ids"), i, id)
		printf(" %" JSON_INTEGER_FORMAT, json_integer_value(id));
	putchar('\n');
}

/* ---- a task's history for people ----------------------------------------- */

/* A time that an event set, much as timeline summaries write it: on the
 * zone's clock to the minute, to the second when it has seconds, and
 * outside UTC with the offset ("2026-10-25 02:30 +02:00"; in UTC without
 * a suffix, the heading says it), so that two times a second or more
 * apart never read the same, across a change of the clocks too (the
 * milliseconds, which a relative time such as +2d always has, are left
 * to --json). */
static void value_time(const char *t, char out[48])
{
	int64_t ms;
	tl_err err = { .index = -1 };

	if (tl_time_parse(tl_s(t), 0, NULL, "at", &ms, &err) ||
	    tl_time_format_short(ms, zone, wall_past_9999(ms), out))
		snprintf(out, 48, "%s", t);
}

/* Whether an event's field holds a time: due_at, completed_at... */
static bool time_field(const char *key)
{
	size_t kl = strlen(key);
	return kl > 3 && !strcmp(key + kl - 3, "_at");
}

/* Two times of a change, as value_time writes each, or both to the
 * millisecond when they differ by less than that shows (a due time moved
 * by 250 ms must not read "10:00:30 → 10:00:30"); false when either is
 * not a time. */
static bool value_times(const char *a, const char *b, char aout[48],
			char bout[48])
{
	int64_t am, bm;
	tl_err err = { .index = -1 };

	return !tl_time_parse(tl_s(a), 0, NULL, "at", &am, &err) &&
	       !tl_time_parse(tl_s(b), 0, NULL, "at", &bm, &err) &&
	       !tl_time_format_pair(am, bm, zone,
				    wall_past_9999(am) || wall_past_9999(bm),
				    aout, bout);
}

/* A value of an event's data as people read it: times as value_time
 * writes them, statuses and types by their labels ("To Do"), a link as
 * TYPE:ID, a list joined by commas, null as "none", titles and notes
 * quoted. */
static void put_value(FILE *f, const char *key, const json_t *v)
{
	size_t i;
	const json_t *x;
	char when[48];

	if (json_is_null(v)) {
		fputs("none", f);
	} else if (json_is_string(v) && time_field(key)) {
		value_time(json_string_value(v), when);
		fputs(when, f);
	} else if (json_is_string(v) && !strcmp(key, "status")) {
		fputs(label(json_string_value(v), status_labels), f);
	} else if (json_is_string(v) && !strcmp(key, "type")) {
		fputs(label(json_string_value(v), type_labels), f);
	} else if (json_is_string(v) &&
		   (!strcmp(key, "title") || !strcmp(key, "notes"))) {
		char *q = json_dumps(v, JSON_ENCODE_ANY); /* "..." escaped */
		fputs(q ? q : "?", f);
		free(q);
	} else if (json_is_string(v)) {
		fputs(json_string_value(v), f);
	} else if (json_is_object(v) && json_object_get(v, "type") &&
		   json_object_get(v, "id")) {
		fprintf(f, "%s:%s", str_or_dash(v, "type"),
			str_or_dash(v, "id"));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (i)
				fputc(',', f);
			put_value(f, key, x);
		}
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(s ? s : "?", f);
		free(s);
	}
}

/* What a field was and became: "none → 2026-03-05 10:00". */
static void put_values(FILE *f, const char *key, const json_t *was,
		       const json_t *now)
{
	char a[48], b[48];

	if (json_is_string(was) && json_is_string(now) && time_field(key) &&
	    value_times(json_string_value(was), json_string_value(now), a,
			b)) {
		fprintf(f, "%s \xe2\x86\x92 %s", a, b); /* → */
		return;
	}
	put_value(f, key, was);
	fputs(" \xe2\x86\x92 ", f);
	put_value(f, key, now);
}

/* A field's name for people: "due" for due_at (the option's name). */
static const char *field_word(const char *key)
{
	return !strcmp(key, "due_at") ? "due" : key;
}

/* What an event did, from its data, whatever its type: "title "A" →
 * "B"; due none → 2026-03-05 10:00" for the changes and previous
 * values it carries, else its fields that are set ("tag vip"). */
static void put_change(FILE *f, const json_t *data)
{
	const json_t *ch = json_object_get(data, "changes"),
		     *prev = json_object_get(data, "previous"), *v;
	const char *k;
	bool first = true;

	if (json_is_object(ch) && json_is_object(prev)) {
		json_object_foreach((json_t *)ch, k, v) {
			fprintf(f, "%s%s ", first ? "" : "; ", field_word(k));
			put_values(f, k, json_object_get(prev, k), v);
			first = false;
		}
		return;
	}
	json_object_foreach((json_t *)data, k, v) {
		if (prev && !strcmp(k, "previous"))
			continue;
		if (!prev && (json_is_null(v) ||
			      (json_is_array(v) && !json_array_size(v))))
			continue; /* what a new task leaves unset */
		fprintf(f, "%s%s ", first ? "" : ", ", field_word(k));
		if (prev) /* one field and what it was */
			put_values(f, k, prev, v);
		else
			put_value(f, k, v);
		first = false;
	}
}

void human_history(const json_t *events)
{
	size_t i, w_seq = 3, w_at, w_actor = actor_width(events), w_what;
	const json_t *e;
	char heading[96], when[SHORT_TIME_MAX], seq[24];

	json_array_foreach(events, i, e)
		w_seq = max_size(w_seq,
				 (size_t)snprintf(seq, sizeof seq,
						  "%" JSON_INTEGER_FORMAT,
						  json_integer_value(
							  json_object_get(
								  e, "seq"))));
	time_heading("AT", heading, sizeof heading);
	w_at = times_width(heading, events, "at");
	w_what = title_width(w_seq + 2 + w_at + 2 + w_actor + 2);
	printf("%*s  ", (int)w_seq, "SEQ");
	put_cell(heading, w_at, false);
	put_cell("ACTOR", w_actor, false);
	put_cell("WHAT", w_what, true);
	putchar('\n');
	json_array_foreach(events, i, e) {
		const char *type = str_or_dash(e, "type");
		membuf m;
		FILE *f = membuf_open(&m);
		if (f) {
			/* "task.assigned" as "assigned": the task is known */
			fputs(strncmp(type, "task.", 5) ? type : type + 5, f);
			const json_t *d = json_object_get(e, "data");
			if (json_object_size(d)) {
				fputs(": ", f);
				put_change(f, d);
			}
		}
		bool ok = membuf_close(f, &m);
		printf("%*" JSON_INTEGER_FORMAT "  ", (int)w_seq,
		       json_integer_value(json_object_get(e, "seq")));
		short_time(str_or_dash(e, "at"), when);
		put_cell(when, w_at, false);
		put_cell(str_or_dash(json_object_get(e, "actor"), "id"),
			 w_actor, false);
		/* out of memory: membuf_nomem() keeps the page from print */
		put_cell(ok && m.p ? m.p : type, w_what, true);
		free(m.p);
		putchar('\n');
	}
}
