/*
 * import.c - `tasklog import`: records of a JSON Lines or msgpack input,
 * as tasks to add and commands to run (task, member and notification
 * writes: tl_txn_exec) or as events as stored (tl_log_import).
 *
 * The input is split into records and every record's form is checked
 * before anything runs, so that a malformed one appends nothing even
 * when the import commits in batches.  Tasks then run in chunks of
 * CHUNK commands inside one write transaction (or one per batch): the
 * engine validates each command and reports which one failed.  Events
 * are turned back into the msgpack records they were stored as and
 * handed to tl_log_import, which checks that each continues the log
 * (seq, hash chain, stream version): a record rebuilt from JSON that is
 * not byte for byte the stored one fails the hash check, so nothing is
 * ever imported that differs from what was exported.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <utf8proc.h>

#include <jansson.h>
#include <msgpack.h>

#include "import.h"
#include "json.h"
#include "tasklog_msgpack.h"
#include "tasklog_view.h"

/* Commands per tl_txn_exec: the JSON of a chunk is alive at once. */
#define CHUNK 512
/* The map's room made for a batch before it runs (tl_db_reserve), per
 * record and per byte of its input: one transaction's pages, measured
 * (3.4 KB a task added, up to 7 KB a command on existing tasks, 2.8 KB
 * an event) and rounded up, and for long texts (notes) sixteen times
 * their bytes.  Address space, not disk. */
#define ROOM_PER_RECORD 8192
/* Events of a transaction imported in calls of this many (tl_txn_import),
 * telling the progress between them. */
#define EV_CHUNK 4096
#define ROOM_PER_BYTE 16

typedef struct rec {
	size_t off, len;
	uint64_t where; /* line or record number */
} rec;

typedef struct job {
	const uint8_t *in;
	const import_opts *o;
	rec *recs;
	size_t n, cap;
	const char *unit; /* "line" or "record" */
	import_out *out;  /* its where: the record an error is about */
	struct packed {   /* events of JSON Lines, packed again */
		msgpack_sbuffer sb;
		bool failed;  /* an allocation failed: sb is short */
	} packed;
	const uint8_t **ev_recs; /* the event records, for tl_txn_import */
	size_t *ev_lens;
	bool ids_checked; /* no event id repeats among them (ids_once) */
} job;

static int fail(tl_err *err, int code, const char *field, const job *j,
		uint64_t where, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int fail(tl_err *err, int code, const char *field, const job *j,
		uint64_t where, const char *fmt, ...)
{
	char msg[sizeof err->message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	j->out->where = where;
	return tl_err_set(err, code, field, "%s %llu: %s", j->unit,
			  (unsigned long long)where, msg);
}

/* An engine error about record `where`: its message prefixed. */
static int blame(tl_err *err, int rc, const job *j, uint64_t where)
{
	char msg[sizeof err->message];
	snprintf(msg, sizeof msg, "%s", err->message);
	/* a long message loses its end */
	if (snprintf(err->message, sizeof err->message, "%s %llu: %s",
		     j->unit, (unsigned long long)where,
		     msg) >= (int)sizeof err->message) {
		/* between characters (the document is UTF-8) */
		size_t at = sizeof err->message - 4;
		while (at && ((unsigned char)err->message[at] & 0xc0) == 0x80)
			at--;
		memcpy(err->message + at, "...", 4);
	}
	return rc;
}

static int add_rec(job *j, size_t off, size_t len, uint64_t where,
		   tl_err *err)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 1024;
		rec *p = realloc(j->recs, cap * sizeof *p);
		if (!p)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		j->recs = p;
		j->cap = cap;
	}
	j->recs[j->n++] = (rec){ off, len, where };
	return 0;
}

/* ---- splitting -------------------------------------------------------- */

static int split_lines(job *j, size_t len, tl_err *err)
{
	uint64_t line = 0;
	size_t off = 0;
	/* a byte order mark, as some editors and exports begin with */
	if (len >= 3 && !memcmp(j->in, "\xef\xbb\xbf", 3))
		off = 3;
	while (off < len) {
		const uint8_t *p = j->in + off;
		const uint8_t *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;
		size_t next = off + n + (nl ? 1 : 0);
		line++;
		size_t k = n;
		while (k && (p[k - 1] == '\r' || p[k - 1] == ' ' ||
			     p[k - 1] == '\t'))
			k--;
		size_t s = 0;
		while (s < k && (p[s] == ' ' || p[s] == '\t'))
			s++;
		if (s < k) { /* blank lines are skipped */
			if (k - s > IMPORT_RECORD_MAX)
				return fail(err, TL_EINVALID, "", j, line,
					    "longer than %d bytes",
					    IMPORT_RECORD_MAX);
			int rc = add_rec(j, off + s, k - s, line, err);
			if (rc)
				return rc;
		}
		off = next;
	}
	return 0;
}

static int split_msgpack(job *j, size_t len, tl_err *err)
{
	uint64_t nr = 0;
	for (size_t off = 0; off < len;) {
		size_t end = off;
		nr++;
		if (!tl_mp_skip(j->in, len, &end))
			return fail(err, TL_EINVALID, "", j, nr,
				    "not a whole msgpack value (at byte %zu: "
				    "malformed, nested too deep, or cut "
				    "short)",
				    off);
		uint8_t c = j->in[off];
		if (!((c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf))
			return fail(err, TL_EINVALID, "", j, nr,
				    "not a msgpack map (at byte %zu)", off);
		if (end - off > IMPORT_RECORD_MAX)
			return fail(err, TL_EINVALID, "", j, nr,
				    "longer than %d bytes", IMPORT_RECORD_MAX);
		int rc = add_rec(j, off, end - off, nr, err);
		if (rc)
			return rc;
		off = end;
	}
	return 0;
}

/* ---- a record as JSON --------------------------------------------------- */

/* A task's msgpack map, before it becomes JSON: what JSON Lines cannot
 * hold and the conversion would hide is refused, naming its field: a key
 * that is not text, holds a NUL or comes twice (the last would win); text
 * that is not UTF-8 (it would become U+FFFD); bytes (they would become
 * hex text); an extension other than a timestamp under due_at (or a
 * command's due).  A command's params are named by their own keys. */
static int mp_check(const job *j, uint64_t where, const msgpack_object *o,
		    const char *key, int depth, tl_err *err)
{
	const char *f = key ? key : "";
	switch (o->type) {
	case MSGPACK_OBJECT_MAP: {
		const msgpack_object_kv *kv = o->via.map.ptr;
		char name[64];
		if (depth > 8)
			return fail(err, TL_EINVALID, f, j, where,
				    "nested too deep");
		/* before the check of keys twice, which takes the square */
		if (o->via.map.size > 64)
			return fail(err, TL_EINVALID, f, j, where,
				    "a map of %u entries: a task has far "
				    "fewer fields",
				    o->via.map.size);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &kv[i].key;
			/* msgpack-c leaves an empty string's pointer NULL */
			size_t kn = k->type == MSGPACK_OBJECT_STR
					    ? k->via.str.size
					    : 0;
			if (k->type != MSGPACK_OBJECT_STR ||
			    (kn && memchr(k->via.str.ptr, 0, kn)) ||
			    (kn && !tl_utf8_valid(k->via.str.ptr, kn)) ||
			    kn >= sizeof name)
				return fail(err, TL_EINVALID, f, j, where,
					    "a key of the map is not a name");
			if (kn)
				memcpy(name, k->via.str.ptr, kn);
			name[kn] = 0;
			/* a command's params are named as a task's
			 * fields are */
			bool named = !key || (depth == 1 &&
					      !strcmp(key, "params"));
			for (uint32_t m = 0; m < i; m++)
				if (kv[m].key.via.str.size == kn &&
				    (!kn || !memcmp(kv[m].key.via.str.ptr,
						    k->via.str.ptr, kn)))
					return fail(err, TL_EINVALID,
						    named ? name : f, j, where,
						    "a key comes twice");
			int rc = mp_check(j, where, &kv[i].val,
					  named ? name : key, depth + 1, err);
			if (rc)
				return rc;
		}
		return 0;
	}
	case MSGPACK_OBJECT_ARRAY:
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			int rc = mp_check(j, where, &o->via.array.ptr[i], f,
					  depth + 1, err);
			if (rc)
				return rc;
		}
		return 0;
	case MSGPACK_OBJECT_STR:
		return !o->via.str.size ||
				       tl_utf8_valid(o->via.str.ptr,
						     o->via.str.size)
			       ? 0
			       : fail(err, TL_EINVALID, f, j, where,
				      "is not valid UTF-8");
	case MSGPACK_OBJECT_BIN:
		return fail(err, TL_EINVALID, f, j, where,
			    "must be text, not bytes");
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON has no NaN or infinity (the record would have read
		 * as null: the field not given) */
		return isfinite(o->via.f64)
			       ? 0
			       : fail(err, TL_EINVALID, f, j, where,
				      "is not a number (NaN or infinity), "
				      "which JSON cannot say");
	case MSGPACK_OBJECT_EXT: {
		int64_t ms;
		msgpack_timestamp ts;
		if (o->via.ext.type == -1 &&
		    (!strcmp(f, "due_at") || !strcmp(f, "due")))
			return msgpack_object_to_timestamp(o, &ts) &&
					       ts.tv_nsec <= 999999999u &&
					       tl_mp_time_ms(o, &ms)
				       ? 0
				       : fail(err, TL_EINVALID, f, j, where,
					      "a timestamp that is no time "
					      "(its nanoseconds past a "
					      "second, or out of range)");
		return fail(err, TL_EINVALID, f, j, where,
			    "an extension type that is no time of a due_at "
			    "or due");
	}
	default:
		return 0;
	}
}

/* The record as a JSON object (new reference), or an error.  A msgpack
 * map is converted as the CLI prints documents (times as RFC 3339). */
/* What jansson quotes of the input near an error, perhaps cut inside a
 * character, for a message: whole characters kept, but those that do not
 * show (format characters such as a byte order mark, separators) as
 * \uXXXX, and a control or a byte of no character as '?'. */
static void json_near(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *c = in; *c && o + 8 < cap;) {
		unsigned char b = (unsigned char)*c;
		size_t n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
		utf8proc_int32_t cp;
		/* (utf8proc checks the sequence, its length the NUL) */
		if (b < 0x20 || b == 0x7f || strnlen(c, n) < n ||
		    utf8proc_iterate((const utf8proc_uint8_t *)c,
				     (utf8proc_ssize_t)n, &cp) != (long)n) {
			out[o++] = '?';
			c++;
			continue;
		}
		utf8proc_category_t k = utf8proc_category(cp);
		if (k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_ZL ||
		    k == UTF8PROC_CATEGORY_ZP) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04X",
					      (unsigned)cp);
		} else {
			memcpy(out + o, c, n);
			o += n;
		}
		c += n;
	}
	out[o] = 0;
}

/* Whether p[0..n) is one JSON number, as RFC 8259 writes it. */
static bool json_number(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if (i < n && p[i] >= '1' && p[i] <= '9')
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	else
		return false;
	if (i < n && p[i] == '.') {
		size_t d = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

/* A number past what jansson holds (an integer beyond 64 bits, a real
 * beyond a double's range) is JSON all the same: the line is read again
 * with each such number written as a real of the same sign past 2^63
 * (up to BIG_NUMBERS_MAX of them), as a msgpack integer past INT64_MAX
 * comes (json.c), so that the field that holds it is named ("is too
 * large") instead of the line called not JSON.  NULL as json_loadb,
 * with its first error (the columns of the line as given), and *nomem
 * set when a copy could not be made. */
#define BIG_NUMBERS_MAX 64
static json_t *load_line(const char *in, size_t len, json_error_t *je,
			 bool *nomem)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_t *v = mpjson_loadb(in, len, flags, je);
	json_error_t first = *je; /* said when the line fails anyway */
	char *copy = NULL;
	*nomem = false;
	for (int n = 0; !v && n < BIG_NUMBERS_MAX &&
			json_error_code(je) == json_error_numeric_overflow;
	     n++) {
		/* je->position: the end of the number, which must be one
		 * number alone (not "5-1e999", whose "5" jansson took
		 * before the next token failed) */
		size_t end = je->position > 0 ? (size_t)je->position : 0;
		size_t start = end > len ? len : end;
		end = start;
		while (start && in[start - 1] &&
		       strchr("0123456789+-.eE", in[start - 1]))
			start--;
		if (!json_number(in + start, end - start))
			break;
		const char *big = in[start] == '-' ? "-1e300" : "1e300";
		size_t bl = strlen(big), nlen = len - (end - start) + bl;
		char *next = malloc(nlen);
		if (!next) {
			*nomem = true;
			break;
		}
		memcpy(next, in, start);
		memcpy(next + start, big, bl);
		memcpy(next + start + bl, in + end, len - end);
		free(copy);
		in = copy = next;
		len = nlen;
		v = mpjson_loadb(in, len, flags, je);
	}
	free(copy);
	if (!v)
		*je = first;
	return v;
}

static int record_json(const job *j, const rec *r, json_t **out,
		       tl_err *err)
{
	json_t *v;
	j->out->reading = r->where;
	if (j->o->msgpack) {
		msgpack_zone zone;
		msgpack_object o;
		size_t off = 0;
		if (!msgpack_zone_init(&zone, 4096))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		int u = tl_mp_unpack(j->in + r->off, r->len, &off, &zone, &o);
		int rc = u == MSGPACK_UNPACK_SUCCESS && !j->o->events
				 ? mp_check(j, r->where, &o, NULL, 0, err)
				 : 0;
		if (rc) {
			msgpack_zone_destroy(&zone);
			return rc;
		}
		v = u == MSGPACK_UNPACK_SUCCESS ? mpjson_from_object(&o)
						: NULL;
		msgpack_zone_destroy(&zone);
		if (u == MSGPACK_UNPACK_NOMEM_ERROR || (u == MSGPACK_UNPACK_SUCCESS && !v))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		if (!v)
			return fail(err, TL_EINVALID, "", j, r->where,
				    "not a msgpack map");
	} else {
		json_error_t je;
		/* \u0000 in a string is JSON: the field that holds it is
		 * refused by name (text has no NUL) */
		bool nomem;
		v = load_line((const char *)j->in + r->off, r->len, &je,
			      &nomem);
		if (!v && (nomem || mpjson_nomem()))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		/* jansson takes a NUL byte for the end of the input ("end
		 * of file expected near end of file"): an error at or past
		 * one is said as the NUL, at its column (characters) */
		const char *in = (const char *)j->in + r->off;
		const char *nul = memchr(in, 0, r->len);
		/* ...and a line it read whole may hold one too, which it
		 * passed over (`"version":1` NUL `}`, since 0.3.45: a
		 * review's line was taken) */
		if (nul && (v || (je.position >= 0 &&
				  (size_t)je.position >= (size_t)(nul - in)))) {
			json_decref(v);
			int col = 1;
			for (const char *c = in; c < nul; c++)
				col += ((unsigned char)*c & 0xc0) != 0x80;
			return fail(err, TL_EINVALID, "", j, r->where,
				    "not JSON: a NUL byte (column %d)", col);
		}
		if (!v) {
			char near[sizeof je.text * 2];
			json_near(je.text, near, sizeof near);
			return fail(err, TL_EINVALID, "", j, r->where,
				    "not JSON: %s (column %d)", near,
				    je.column);
		}
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return fail(err, TL_EINVALID, "", j, r->where,
			    "not an object");
	}
	*out = v;
	return 0;
}

/* ---- tasks ------------------------------------------------------------------ */

/* What a task record holds beyond the JSON: its tags and link text. */
typedef struct task_rec {
	json_t *json;
	tl_slice *tags;
	char *link;
	tl_slice *ids; /* notifications.read's, as text in idtext */
	char *idtext;
} task_rec;

static void task_rec_free(task_rec *t)
{
	json_decref(t->json);
	free(t->tags);
	free(t->link);
	free(t->ids);
	free(t->idtext);
	*t = (task_rec){ 0 };
}

static int text_field(const job *j, uint64_t where, const char *key,
		      json_t *v, tl_slice *out, tl_err *err)
{
	if (json_is_null(v)) {
		*out = (tl_slice){ 0 };
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, TL_EINVALID, key, j, where,
			    "must be a string or null");
	*out = (tl_slice){ json_string_value(v), json_string_length(v) };
	return 0;
}

/* The link as "TYPE:ID": given so, or as the task shape's
 * {"type": ..., "id": ...}. */
static int link_field(const job *j, uint64_t where, json_t *v,
		      task_rec *t, tl_cmd *cmd, tl_err *err)
{
	if (json_is_string(v))
		return text_field(j, where, "link", v, &cmd->link, err);
	json_t *type = json_object_get(v, "type"), *id = json_object_get(v, "id");
	if (!json_is_object(v) || json_object_size(v) != 2 ||
	    !json_is_string(type) || !json_is_string(id))
		return fail(err, TL_EINVALID, "link", j, where,
			    "must be {\"type\": TYPE, \"id\": ID} or "
			    "\"TYPE:ID\"");
	size_t tl = json_string_length(type), il = json_string_length(id);
	char cut[88];
	/* joined as TYPE:ID, which splits at its first colon: a type with
	 * one would file the task under another record */
	if (!tl || memchr(json_string_value(type), ':', tl))
		return fail(err, TL_EINVALID, "link.type", j, where,
			    "unknown value '%s' (one of: contact, lead, "
			    "account, opportunity)",
			    tl_quote((tl_slice){ json_string_value(type), tl },
				     cut, sizeof cut));
	if (!il)
		return fail(err, TL_EINVALID, "link.id", j, where,
			    "must not be empty");
	if (!(t->link = malloc(tl + il + 2)))
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	memcpy(t->link, json_string_value(type), tl);
	t->link[tl] = ':';
	memcpy(t->link + tl + 1, json_string_value(id), il);
	t->link[tl + il + 1] = 0;
	cmd->link = (tl_slice){ t->link, tl + il + 1 };
	return 0;
}

static int tags_field(const job *j, uint64_t where, const char *field,
		      json_t *v, task_rec *t, tl_cmd *cmd, tl_err *err)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(err, TL_EINVALID, field, j, where,
			    "must be an array of strings");
	size_t n = json_array_size(v);
	if (n && !(t->tags = malloc(n * sizeof *t->tags)))
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s))
			return fail(err, TL_EINVALID, field, j, where,
				    "must be an array of strings");
		t->tags[i] = (tl_slice){ json_string_value(s),
					 json_string_length(s) };
	}
	cmd->tags = t->tags;
	cmd->tags_len = n;
	return 0;
}

/* ---- commands --------------------------------------------------------- */

/* A command record, {"method": "task.assign", "params": {...}}: a task
 * or member write as the server's batch takes one (params named as the
 * command's long options, dashes as underscores; values as on the command
 * line). */
enum {
	P_ID = 1u << 0, P_TITLE = 1u << 1, P_TYPE = 1u << 2,
	P_DUE = 1u << 3, P_NO_DUE = 1u << 4, P_NOTES = 1u << 5,
	P_LINK = 1u << 6, P_ASSIGNEE = 1u << 7, P_UNASSIGN = 1u << 8,
	P_STATUS = 1u << 9, P_PIPELINE = 1u << 10, P_STAGE = 1u << 11,
	P_TAG = 1u << 12, P_EXPECT = 1u << 13, P_IDEM = 1u << 14,
	P_NAME = 1u << 15, P_ROLE = 1u << 16, P_CRM = 1u << 17,
	P_MEMBER = 1u << 18, P_IDS = 1u << 19,
	P_TASK_WRITE = P_ID | P_EXPECT | P_IDEM,
	P_MEMBER_WRITE = P_ID | P_NAME | P_ROLE | P_CRM | P_IDEM,
};

static const struct method {
	const char *name;
	tl_cmd_kind kind;
	unsigned takes, needs;
} methods[] = {
	{ "task.add", TL_TASK_ADD,
	  P_TASK_WRITE | P_TITLE | P_TYPE | P_DUE | P_NOTES | P_LINK |
		  P_ASSIGNEE | P_STATUS | P_PIPELINE | P_STAGE | P_TAG,
	  P_TITLE | P_LINK },
	{ "task.update", TL_TASK_UPDATE,
	  P_TASK_WRITE | P_TITLE | P_TYPE | P_DUE | P_NO_DUE | P_NOTES, P_ID },
	{ "task.assign", TL_TASK_ASSIGN, P_TASK_WRITE | P_ASSIGNEE | P_UNASSIGN,
	  P_ID },
	{ "task.status", TL_TASK_STATUS, P_TASK_WRITE | P_STATUS,
	  P_ID | P_STATUS },
	{ "task.complete", TL_TASK_COMPLETE, P_TASK_WRITE, P_ID },
	{ "task.reopen", TL_TASK_REOPEN, P_TASK_WRITE | P_STATUS, P_ID },
	{ "task.tag", TL_TASK_TAG, P_TASK_WRITE | P_TAG, P_ID | P_TAG },
	{ "task.untag", TL_TASK_UNTAG, P_TASK_WRITE | P_TAG, P_ID | P_TAG },
	{ "task.delete", TL_TASK_DELETE, P_TASK_WRITE, P_ID },
	{ "member.add", TL_MEMBER_ADD, P_MEMBER_WRITE, P_ID | P_NAME },
	{ "member.update", TL_MEMBER_UPDATE, P_MEMBER_WRITE, P_ID },
	{ "notifications.read", TL_NOTIFICATIONS_READ, P_MEMBER | P_IDS | P_IDEM,
	  P_IDS },
};

static const struct param {
	const char *name;
	unsigned bit;
	size_t off; /* of its tl_slice in tl_cmd; 0: handled on its own */
} params[] = {
	{ "id", P_ID, offsetof(tl_cmd, id) },
	{ "title", P_TITLE, offsetof(tl_cmd, title) },
	{ "type", P_TYPE, offsetof(tl_cmd, type) },
	{ "due", P_DUE, offsetof(tl_cmd, due) },
	{ "notes", P_NOTES, offsetof(tl_cmd, notes) },
	{ "assignee", P_ASSIGNEE, offsetof(tl_cmd, assignee) },
	{ "status", P_STATUS, offsetof(tl_cmd, status) },
	{ "pipeline", P_PIPELINE, offsetof(tl_cmd, pipeline) },
	{ "stage", P_STAGE, offsetof(tl_cmd, stage) },
	{ "idempotency_key", P_IDEM, offsetof(tl_cmd, idempotency_key) },
	{ "name", P_NAME, offsetof(tl_cmd, name) },
	{ "role", P_ROLE, offsetof(tl_cmd, role) },
	{ "crm_access", P_CRM, 0 },
	{ "member", P_MEMBER, offsetof(tl_cmd, id) }, /* whose notifications */
	{ "ids", P_IDS, 0 },
	{ "link", P_LINK, 0 },
	{ "no_due", P_NO_DUE, 0 },
	{ "unassign", P_UNASSIGN, 0 },
	{ "tag", P_TAG, 0 },
	{ "expect_version", P_EXPECT, 0 },
};

/* true sets a flag; false and null leave it unset. */
static int flag_param(const job *j, uint64_t where, const char *key,
		      json_t *v, bool *out, tl_err *err)
{
	if (!json_is_boolean(v) && !json_is_null(v))
		return fail(err, TL_EINVALID, key, j, where,
			    "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* Notification ids: an array of numbers (or their text, as the command
 * line takes them), handed to the engine as text. */
static int ids_param(const job *j, uint64_t where, json_t *v, task_rec *t,
		     tl_cmd *cmd, tl_err *err)
{
	enum { DIGITS = 21 };
	if (json_is_null(v))
		return 0;
	size_t n = json_array_size(v);
	if (!json_is_array(v))
		return fail(err, TL_EINVALID, "ids", j, where,
			    "must be an array of notification ids");
	if (n && (!(t->ids = malloc(n * sizeof *t->ids)) ||
		  !(t->idtext = malloc(n * DIGITS))))
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		char *s = t->idtext + i * DIGITS;
		if (json_is_integer(e) && json_integer_value(e) >= 0) {
			int k = snprintf(s, DIGITS, "%lld",
					 (long long)json_integer_value(e));
			t->ids[i] = (tl_slice){ s, (size_t)k };
		} else if (json_is_string(e)) {
			t->ids[i] = (tl_slice){ json_string_value(e),
						json_string_length(e) };
		} else if (json_is_real(e) && json_real_value(e) >= 0x1p63) {
			/* past INT64_MAX (load_line, json.c) */
			return fail(err, TL_EINVALID, "ids", j, where,
				    "holds a number too large to be a "
				    "notification id (at most "
				    "9223372036854775807)");
		} else {
			return fail(err, TL_EINVALID, "ids", j, where,
				    "must be an array of notification ids");
		}
	}
	cmd->ids = t->ids;
	cmd->ids_len = n;
	return 0;
}

static int command_param(const job *j, uint64_t where,
			 const struct param *p, json_t *v, task_rec *t,
			 tl_cmd *cmd, tl_err *err)
{
	if (p->off)
		return text_field(j, where, p->name, v,
				  (tl_slice *)((char *)cmd + p->off), err);
	switch (p->bit) {
	case P_LINK:
		return json_is_null(v) ? 0
				       : link_field(j, where, v, t, cmd, err);
	case P_NO_DUE:
		return flag_param(j, where, p->name, v, &cmd->no_due, err);
	case P_UNASSIGN:
		return flag_param(j, where, p->name, v, &cmd->unassign, err);
	case P_CRM: { /* true grants, false revokes: both are given */
		bool on = false;
		int rc = flag_param(j, where, p->name, v, &on, err);
		cmd->crm_access = rc || json_is_null(v) ? 0 : on ? 1 : -1;
		return rc;
	}
	case P_TAG:
		if (!json_is_string(v))
			return tags_field(j, where, "tag", v, t, cmd, err);
		if (!(t->tags = malloc(sizeof *t->tags)))
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		t->tags[0] = (tl_slice){ json_string_value(v),
					 json_string_length(v) };
		cmd->tags = t->tags;
		cmd->tags_len = 1;
		return 0;
	case P_IDS:
		return ids_param(j, where, v, t, cmd, err);
	default: /* P_EXPECT */
		if (json_is_null(v))
			return 0;
		/* a msgpack integer past INT64_MAX comes as a real (json.c):
		 * said as too large, as the command line says it */
		if (json_is_real(v) && json_real_value(v) >= 0x1p63)
			return fail(err, TL_EINVALID, p->name, j, where,
				    "is too large: a version number is at "
				    "most 9223372036854775807");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return fail(err, TL_EINVALID, p->name, j, where,
				    "must be a version number (0 or more)");
		cmd->has_expect_version = true;
		cmd->expect_version = (uint64_t)json_integer_value(v);
		return 0;
	}
}

static int command_cmd(const job *j, uint64_t where, task_rec *t,
		       tl_cmd *cmd, tl_err *err)
{
	json_t *m = json_object_get(t->json, "method");
	json_t *ps = json_object_get(t->json, "params");
	const struct method *mt = NULL;
	const char *key;
	json_t *v;
	unsigned given = 0;
	int rc;

	json_object_foreach(t->json, key, v)
		if (strcmp(key, "method") && strcmp(key, "params"))
			return fail(err, TL_EINVALID, key, j, where,
				    "not a field of a command (method, "
				    "params)");
	for (size_t i = 0; json_is_string(m) &&
			   i < sizeof methods / sizeof *methods; i++)
		if (json_string_length(m) == strlen(methods[i].name) &&
		    !strcmp(json_string_value(m), methods[i].name))
			mt = &methods[i];
	if (!mt)
		return fail(err, TL_EINVALID, "method", j, where,
			    "must be one of task.add, task.update, "
			    "task.assign, task.status, task.complete, "
			    "task.reopen, task.tag, task.untag, task.delete, "
			    "member.add, "
			    "member.update, notifications.read");
	if (ps && !json_is_object(ps) && !json_is_null(ps))
		return fail(err, TL_EINVALID, "params", j, where,
			    "must be an object");
	*cmd = (tl_cmd){ .kind = mt->kind };
	json_object_foreach(ps, key, v) {
		const struct param *p = NULL;
		for (size_t i = 0; i < sizeof params / sizeof *params; i++)
			if (!strcmp(key, params[i].name))
				p = &params[i];
		if (!p || !(p->bit & mt->takes))
			return fail(err, TL_EINVALID, key, j, where,
				    "not a parameter of %s", mt->name);
		if ((rc = command_param(j, where, p, v, t, cmd, err)))
			return rc;
		if (!json_is_null(v) && (!json_is_false(v) || p->bit == P_CRM))
			given |= p->bit;
	}
	for (size_t i = 0; i < sizeof params / sizeof *params; i++)
		if (mt->needs & params[i].bit & ~given)
			return fail(err, TL_EINVALID, params[i].name, j, where,
				    "is required by %s", mt->name);
	if (mt->kind == TL_TASK_ASSIGN &&
	    !(given & P_ASSIGNEE) == !(given & P_UNASSIGN))
		return fail(err, TL_EINVALID, "assignee", j, where,
			    "give an assignee, or unassign: true (one of "
			    "them)");
	if ((given & P_DUE) && (given & P_NO_DUE))
		return fail(err, TL_EINVALID, "due", j, where,
			    "give due or no_due: true, not both");
	/* as `member add` makes it (the request's fingerprint, which an
	 * idempotency key keeps, is the same then) */
	if (mt->kind == TL_MEMBER_ADD && !cmd->crm_access)
		cmd->crm_access = 1;
	return 0;
}

/* The task shape's fields that a new task takes from its event, not from
 * input: accepted (so that a task as `task show --json` prints it can be
 * imported) and left out. */
/* The fields of a task as `task show` prints it that the log makes
 * (an import takes none of them): NULL for another key, else the form
 * they have, which v must have (else what it must be; for text that is
 * no time, why into e). */
static const char *made_by_the_log(const char *key, const json_t *v,
				   bool *ok, tl_err *e)
{
	static const struct {
		const char *key, *must;
	} made[] = {
		{ "created_at", "a time (RFC 3339, a date or +3d) or null" },
		{ "updated_at", "a time (RFC 3339, a date or +3d) or null" },
		{ "completed_at", "a time (RFC 3339, a date or +3d) or null" },
		{ "created_by", "an object {\"id\", \"kind\"} or null" },
		{ "version", "a positive integer or null" },
		{ "created_seq", "a positive integer or null" },
	};
	for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
		if (strcmp(key, made[i].key))
			continue;
		int64_t ms;
		*ok = json_is_null(v) ||
		      (i < 3 ? json_is_string(v) &&
				       !tl_time_parse(
					       (tl_slice){ json_string_value(v),
							   json_string_length(v) },
					       0, NULL, key, &ms, e)
		       : i == 3 ? json_is_object(v)
				: json_is_integer(v) &&
					  json_integer_value(v) > 0);
		return made[i].must;
	}
	return NULL;
}

/* The task.add command of record r into *cmd; t keeps what it points
 * into until task_rec_free. */
static int task_cmd(const job *j, const rec *r, task_rec *t, tl_cmd *cmd,
		    tl_err *err)
{
	const char *key;
	json_t *v;
	int rc;

	*cmd = (tl_cmd){ .kind = TL_TASK_ADD };
	if ((rc = record_json(j, r, &t->json, err)))
		return rc;
	if (json_object_get(t->json, "method"))
		return command_cmd(j, r->where, t, cmd, err);
	if (json_object_get(t->json, "params")) /* a command, half */
		return fail(err, TL_EINVALID, "method", j, r->where,
			    "is required beside params (a command is "
			    "{\"method\", \"params\"})");
	json_object_foreach(t->json, key, v) {
		tl_slice *text = NULL;
		const char *must;
		bool ok;
		tl_err e = { .index = -1 };
		if (!strcmp(key, "title"))
			text = &cmd->title;
		else if (!strcmp(key, "type"))
			text = &cmd->type;
		else if (!strcmp(key, "status"))
			text = &cmd->status;
		else if (!strcmp(key, "due_at"))
			text = &cmd->due;
		else if (!strcmp(key, "assignee"))
			text = &cmd->assignee;
		else if (!strcmp(key, "notes"))
			text = &cmd->notes;
		else if (!strcmp(key, "id"))
			text = &cmd->id;
		else if (!strcmp(key, "pipeline"))
			text = &cmd->pipeline;
		else if (!strcmp(key, "stage"))
			text = &cmd->stage;
		else if (!strcmp(key, "idempotency_key"))
			text = &cmd->idempotency_key;
		if (text)
			rc = text_field(j, r->where, key, v, text, err);
		else if (!strcmp(key, "link"))
			rc = link_field(j, r->where, v, t, cmd, err);
		else if (!strcmp(key, "tags"))
			rc = tags_field(j, r->where, "tags", v, t, cmd, err);
		else if (!strcmp(key, "deleted"))
			rc = json_is_false(v) || json_is_null(v) ? 0
			     : json_is_true(v)
				     ? fail(err, TL_EINVALID, "deleted", j,
					    r->where,
					    "a deleted task is not imported")
				     : fail(err, TL_EINVALID, "deleted", j,
					    r->where,
					    "must be a boolean or null");
		else if (!strcmp(key, "automation"))
			rc = json_is_null(v) ? 0
			     : json_is_object(v)
				     ? fail(err, TL_EINVALID, "automation", j,
					    r->where,
					    "automation queue rows are made "
					    "by rules, not imported")
				     : fail(err, TL_EINVALID, "automation", j,
					    r->where,
					    "must be an object or null");
		else if (!(must = made_by_the_log(key, v, &ok, &e)))
			rc = fail(err, TL_EINVALID, key, j, r->where,
				  "not a field of a task");
		else if (!ok && json_is_string(v) && e.message[0])
			/* a text that is no time: why (a walk-through read
			 * "must be a time (a string)" of a string) */
			rc = fail(err, TL_EINVALID, key, j, r->where, "%s",
				  e.message);
		else if (!ok) /* taken from the log, not the record */
			rc = fail(err, TL_EINVALID, key, j, r->where,
				  "must be %s", must);
		if (rc)
			return rc;
	}
	return 0;
}

/* An engine error about a task record names the record's field: the
 * engine's "due" is its "due_at", "tag" its "tags". */
static void task_field(const task_rec *t, tl_err *err)
{
	if (json_object_get(t->json, "method"))
		return; /* a command's params are named as the engine's */
	if (!strcmp(err->field, "due"))
		snprintf(err->field, sizeof err->field, "due_at");
	else if (!strcmp(err->field, "tag"))
		snprintf(err->field, sizeof err->field, "tags");
}

/* Every task record's form, before anything runs. */
static int check_tasks(const job *j, tl_err *err)
{
	for (size_t i = 0; i < j->n; i++) {
		task_rec t = { 0 };
		tl_cmd cmd;
		int rc = task_cmd(j, &j->recs[i], &t, &cmd, err);
		if (!rc && json_object_get(t.json, "method"))
			j->out->commands++;
		task_rec_free(&t);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- events ----------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" as `export` prints times: its ms, when s is
 * exactly that (the form it is printed in again). */
static bool export_time(const char *s, size_t len, int64_t *ms)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	char back[32];
	tl_err e;
	if (len != sizeof form - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (form[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				   : s[i] != form[i])
			return false;
	if (tl_time_parse((tl_slice){ s, len }, 0, "UTC", "at", ms, &e))
		return false;
	tl_time_format(*ms, back);
	return !strcmp(back, s);
}

static bool hex32(const char *s, size_t len, uint8_t out[32])
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		int c = s[i], d = c >= '0' && c <= '9'   ? c - '0'
				  : c >= 'a' && c <= 'f' ? c - 'a' + 10
							 : -1;
		if (d < 0)
			return false;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] << 4 | d : d);
	}
	return true;
}

static bool is_time_key(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	return (n == 2 && !strcmp(key, "at")) ||
	       (n > 3 && !strcmp(key + n - 3, "_at"));
}

/* Why pack_json refused a record: bad, the key of a time or a hash not
 * in the form export writes (which would not pack to the stored bytes);
 * else what no event holds, a number with a fraction or (deep) nesting
 * deeper than 32, in the innermost object whose key is near (NULL for
 * the record itself). */
typedef struct pack_why {
	const char *bad, *near;
	bool deep, big; /* big: past 64 bits or INT64_MAX (load_line) */
} pack_why;

/* v packed as the engine stores it: JSON's types as msgpack's, a time
 * under a key "at" or "..._at" as a msgpack timestamp, the record's
 * "hash" as 32 bytes; false, with why, for a value no event holds as
 * export writes it. */
static bool pack_json(msgpack_packer *pk, json_t *v, const char *key,
		      int depth, pack_why *why)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if (depth > 32)
			return !(why->deep = true);
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, k, x) {
			size_t n = strlen(k);
			msgpack_pack_str(pk, n);
			msgpack_pack_str_body(pk, k, n);
			if (!pack_json(pk, x, k, depth + 1, why)) {
				if (!why->near)
					why->near = k;
				return false;
			}
		}
		return true;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if (depth > 32)
			return !(why->deep = true);
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, x) {
			if (!pack_json(pk, x, NULL, depth + 1, why))
				return false;
		}
		return true;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		int64_t ms;
		uint8_t h[32];
		bool hash = depth == 1 && key && !strcmp(key, "hash");
		if (hash && hex32(s, n, h)) {
			msgpack_pack_bin(pk, 32);
			msgpack_pack_bin_body(pk, h, 32);
		} else if (is_time_key(key) && export_time(s, n, &ms)) {
			tl_mp_pack_time(pk, ms); /* as the engine packs times */
		} else if (hash || is_time_key(key)) {
			why->bad = key; /* no event holds a string there */
			return false;
		} else {
			msgpack_pack_str(pk, n);
			msgpack_pack_str_body(pk, s, n);
		}
		return true;
	}
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (i >= 0)
			msgpack_pack_uint64(pk, (uint64_t)i);
		else
			msgpack_pack_int64(pk, i);
		return true;
	}
	case JSON_TRUE:
		msgpack_pack_true(pk);
		return true;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		return true;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		return true;
	case JSON_REAL:
		why->big = fabs(json_real_value(v)) >= 0x1p63;
		return false;
	default:
		return false;
	}
}

static int packed_write(void *data, const char *buf, size_t len)
{
	struct packed *p = data;
	if (msgpack_sbuffer_write(&p->sb, buf, len)) {
		p->failed = true;
		return -1;
	}
	return 0;
}

/* Whether event object v holds the envelope's keys in another order than
 * export writes them (and the hash covers them in): a file re-sorted by
 * `jq -S`, say, whose events would not chain. */
static bool envelope_reordered(json_t *v)
{
	static const char *const keys[] = { "seq",    "id",      "type",
					    "stream", "version", "at",
					    "actor",  "schema",  "data",
					    "hash" };
	const size_t n = sizeof keys / sizeof *keys;
	const char *k;
	json_t *x;
	size_t i = 0;
	bool in_order = true;
	if (!json_is_object(v) || json_object_size(v) != n)
		return false;
	json_object_foreach(v, k, x) {
		bool known = false;
		for (size_t m = 0; m < n && !known; m++)
			known = !strcmp(k, keys[m]);
		if (!known)
			return false;
		in_order &= !strcmp(k, keys[i++]);
	}
	return !in_order;
}

/* JSON Lines events back into the msgpack records they were stored as,
 * into j->packed; offs[i], lens[i] locate record i in it. */
static int event_records(job *j, size_t *offs, size_t *lens, tl_err *err)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, &j->packed, packed_write);
	for (size_t i = 0; i < j->n; i++) {
		json_t *v;
		int rc = record_json(j, &j->recs[i], &v, err);
		if (rc)
			return rc;
		if (envelope_reordered(v)) {
			json_decref(v);
			return fail(err, TL_EINVALID, "event", j,
				    j->recs[i].where,
				    "holds an event's keys in another order "
				    "than export wrote them (seq, id, type, "
				    "stream, version, at, actor, schema, data, "
				    "hash; and within each object): its hash "
				    "covers that order, so the lines must be "
				    "as exported (not re-sorted, as by jq -S)");
		}
		size_t before = j->packed.sb.size;
		pack_why why = { 0 };
		char field[64];
		bool ok = pack_json(&pk, v, NULL, 0, &why);
		/* (the key lives in v) a long one cut between characters (a
		 * fuzzing run: cut within one, the error's JSON held a
		 * byte that is no UTF-8) */
		const char *key = why.bad ? why.bad : why.near ? why.near : "";
		size_t kn = strlen(key);
		if (kn >= sizeof field) {
			kn = sizeof field - 1;
			while (kn && ((unsigned char)key[kn] & 0xc0) == 0x80)
				kn--;
		}
		memcpy(field, key, kn);
		field[kn] = 0;
		json_decref(v);
		if (j->packed.failed)
			return tl_err_set(err, TL_ESTORAGE, "storage",
					  "out of memory");
		if (!ok && why.bad && !strcmp(field, "hash"))
			return fail(err, TL_EINVALID, "hash", j,
				    j->recs[i].where,
				    "is not a hash as export writes it (64 "
				    "lowercase hex digits)");
		if (!ok && why.bad)
			return fail(err, TL_EINVALID, field, j,
				    j->recs[i].where,
				    "is not a time as export writes it (UTC "
				    "with milliseconds, "
				    "2026-12-01T10:00:00.000Z)");
		if (!ok)
			return fail(err, TL_EINVALID, field, j,
				    j->recs[i].where, "%s, which no event holds",
				    why.deep ? "nests deeper than 32"
				    : why.big ? "holds a number past "
						"9223372036854775807"
					      : "holds a number with a fraction");
		offs[i] = before;
		lens[i] = j->packed.sb.size - before;
	}
	return 0;
}

/* The records as stored, for tl_txn_import: JSON Lines packed again
 * (into j->packed), msgpack records as they are in the input. */
static int event_inputs(job *j, tl_err *err)
{
	size_t n = j->n ? j->n : 1;
	if (!(j->ev_recs = malloc(n * sizeof *j->ev_recs)) ||
	    !(j->ev_lens = malloc(n * sizeof *j->ev_lens)))
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	if (j->o->msgpack) {
		for (size_t i = 0; i < j->n; i++) {
			j->ev_recs[i] = j->in + j->recs[i].off;
			j->ev_lens[i] = j->recs[i].len;
		}
		return 0;
	}
	size_t *offs = malloc(n * sizeof *offs);
	if (!offs)
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	int rc = event_records(j, offs, j->ev_lens, err);
	for (size_t i = 0; !rc && i < j->n; i++)
		j->ev_recs[i] = (const uint8_t *)j->packed.sb.data + offs[i];
	free(offs);
	return rc;
}

/* ---- running them ---------------------------------------------------------- */

/* Where the first record before recs[upto] that holds idempotency key
 * `key` is (its line or record number), or 0: to name it when a later
 * one's request under the key is another (the engine names the first
 * run's seq, which a refused import never committed).  Only on that
 * error: it reads the records again. */
static uint64_t key_used_at(const job *j, size_t upto, tl_slice key)
{
	uint64_t reading = j->out->reading, found = 0;
	for (size_t i = 0; i < upto && !found; i++) {
		json_t *v;
		tl_err e;
		if (record_json(j, &j->recs[i], &v, &e))
			continue;
		json_t *p = json_object_get(v, "method")
				    ? json_object_get(v, "params")
				    : v;
		json_t *k = json_object_get(p, "idempotency_key");
		if (json_is_string(k) && json_string_length(k) == key.len &&
		    !memcmp(json_string_value(k), key.p, key.len))
			found = j->recs[i].where;
		json_decref(v);
	}
	j->out->reading = reading;
	return found;
}

static bool address_space_limited(void)
{
	struct rlimit r;
	return getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY;
}

/* A commit's writes of the views told: their total kept for import_out,
 * the last commit's passed on to the bar (o->commit_progress). */
struct views_told {
	const import_opts *o;
	bool last;
	uint64_t total;
};

static void views_told(void *arg, uint64_t done, uint64_t total)
{
	struct views_told *v = arg;
	v->total = total;
	if (v->last && v->o->commit_progress)
		v->o->commit_progress(v->o->progress_arg, done, total);
}

/* Records [from, to) in one transaction, then *out counts them.  0, or
 * an error (out->where set for a record's); TL_EAGAIN once the
 * transaction was given up for a full map, now grown: run it again. */
static int run_batch(tl_db *db, const job *j, size_t from, size_t to,
		     import_out *out, tl_err *err)
{
	task_rec t[CHUNK];
	tl_cmd cmds[CHUNK];
	tl_txn *txn;
	/* Room for the batch first: a full map reruns all of it.  Not under
	 * an address-space limit (ulimit -v), which the map shares with the
	 * transaction's pages in memory (a room of 2 GiB under 3 GB failed
	 * the import that growing the map as it filled made): there, and
	 * when the room cannot be made, the map grows as it fills. */
	if (!address_space_limited()) {
		uint64_t room = 0;
		for (size_t i = from; i < to; i++)
			room += ROOM_PER_RECORD +
				(uint64_t)j->recs[i].len * ROOM_PER_BYTE;
		tl_err room_err;
		(void)tl_db_reserve(db, room, &room_err);
	}
	int rc = tl_txn_begin(db, &txn, err);
	if (rc)
		return rc;
	/* a failure aborts it whole: no nested transaction per chunk, which
	 * would leave LMDB no room for the pages of a million tasks */
	tl_txn_all_or_nothing(txn);
	if (from == to && !j->o->events) /* the actor, checked all the same */
		rc = tl_txn_exec(txn, j->o->ctx, NULL, 0, NULL, err);
	for (size_t at = from; at < to && !rc;) {
		size_t k = 0;
		if (j->o->events) {
			/* in calls of EV_CHUNK, for the bar to move */
			k = to - at < EV_CHUNK ? to - at : EV_CHUNK;
			rc = tl_txn_import(txn, j->ev_recs + at,
					   j->ev_lens + at, k, err);
		} else {
			for (; k < CHUNK && at + k < to && !rc; k++) {
				t[k] = (task_rec){ 0 };
				rc = task_cmd(j, &j->recs[at + k], &t[k],
					      &cmds[k], err);
			}
			if (!rc)
				rc = tl_txn_exec(txn, j->o->ctx, cmds, k,
						 NULL, err);
			else /* out of memory: the forms were checked */
				err->index = -1;
			if (rc == TL_ECONFLICT && err->index >= 0 &&
			    (size_t)err->index < k &&
			    !strcmp(err->field, "idempotency_key")) {
				int idx = err->index;
				tl_slice key = cmds[idx].idempotency_key;
				uint64_t w = key_used_at(j, at + (size_t)idx,
							 key);
				if (w) {
					char kq[88];
					tl_err_set(err, TL_ECONFLICT,
						   "idempotency_key",
						   "key '%s' was used by %s "
						   "%llu of this input for "
						   "another request",
						   tl_quote_max(key, 64, kq,
								sizeof kq),
						   j->unit,
						   (unsigned long long)w);
					err->index = idx;
				}
			}
			if (rc && err->index >= 0 && (size_t)err->index < k)
				task_field(&t[err->index], err);
			for (size_t i = 0; i < k; i++)
				task_rec_free(&t[i]);
		}
		/* The actor refused at a call's start, after records of
		 * this import ran (an earlier batch or chunk took its
		 * access or role away): the record refused is the call's
		 * first, named as one refused within a call is. */
		if (rc == TL_EFORBIDDEN && err->index < 0 && at > 0 && k)
			err->index = 0;
		/* A record refused is named; a storage failure (out of
		 * memory, a full disk) is no record's, whichever ran then
		 * (a walk-through: "line 47636: view timeline: out of
		 * memory"). */
		if (rc && rc != TL_EAGAIN && rc != TL_ESTORAGE &&
		    err->index >= 0) {
			out->where = j->recs[at + (size_t)err->index].where;
			blame(err, rc, j, out->where);
		}
		at += k;
		if (!rc && j->o->progress)
			j->o->progress(j->o->progress_arg, at, j->n);
	}
	uint64_t first, end;
	tl_txn_seqs(txn, &first, &end);
	import_out would = *out;
	would.committed += to - from;
	if (end > first) {
		if (!would.first_seq)
			would.first_seq = first;
		would.last_seq = end - 1;
		would.events += end - first;
	}
	/* Before the last commit: what it will have done, made ready to be
	 * said (whatever fails after the commit is not the import's). */
	if (!rc && to == j->n && j->o->ready)
		rc = j->o->ready(j->o->arg, &would, err);
	if (rc || j->o->check) {
		tl_txn_abort(txn); /* grows a full map */
		if (!rc)
			*out = would; /* what it would have appended */
		return rc;
	}
	/* the views' writes counted, the last commit's told: the bar's
	 * second step */
	struct views_told vt = { .o = j->o, .last = to == j->n };
	if ((rc = tl_txn_commit_progress(txn, views_told, &vt, err)))
		return rc;
	would.views_bytes += vt.total;
	*out = would;
	return 0;
}

/* ---- the whole import ------------------------------------------------------ */

/* Every record of j->in[0..len) read and checked for its form. */
static int job_prepare(job *j, size_t len, tl_err *err)
{
	*j->out = (import_out){ 0 };
	err->index = -1;
	msgpack_sbuffer_init(&j->packed.sb);
	int rc = j->o->msgpack ? split_msgpack(j, len, err)
			       : split_lines(j, len, err);
	if (!rc)
		j->out->records = j->n;
	if (!rc)
		rc = j->o->events ? event_inputs(j, err) : check_tasks(j, err);
	return rc;
}

static void job_free(job *j)
{
	msgpack_sbuffer_destroy(&j->packed.sb);
	free(j->ev_recs);
	free(j->ev_lens);
	free(j->recs);
}

/* A workspace not initialised takes a log that begins with events 1
 * and 2 in its first commit (as init makes them; the engine checks what
 * they are): an input of fewer is refused before anything is made (a
 * walk-through: an empty input said "imported 0 events" and left a
 * workspace that every command called not initialised). */
static int fresh_log(const job *j, tl_err *err)
{
	static const char why[] = "a new workspace's log begins as init "
				  "makes one, its settings and its first "
				  "admin (events 1 and 2)";
	if (!j->o->events || !j->o->fresh || j->n >= 2)
		return 0;
	if (j->n)
		return fail(err, TL_EINVALID, "input", j, j->recs[0].where,
			    "is the only event: %s", why);
	return tl_err_set(err, TL_EINVALID, "input", "holds no event: %s",
			  why);
}

/* No event id repeated among the input's records (tl_import_ids_check),
 * the record named by its place in the input. */
static int ids_once(job *j, tl_err *err)
{
	int rc = tl_import_ids_check(j->ev_recs, j->ev_lens, j->n, err);
	if (rc && err->index >= 0) {
		j->out->where = j->recs[err->index].where;
		blame(err, rc, j, j->out->where);
	}
	j->ids_checked = !rc;
	return rc;
}

struct import_job {
	job j;
	import_out prep; /* what the preparation found */
	bool events, msgpack;
};

int import_prepare(const uint8_t *in, size_t len, const import_opts *o,
		   import_out *out, import_job **jobp, tl_err *err)
{
	*jobp = NULL;
	import_job *ij = calloc(1, sizeof *ij);
	if (!ij)
		return tl_err_set(err, TL_ESTORAGE, "storage", "out of memory");
	ij->j = (job){ .in = in, .o = o,
		       .unit = o->msgpack ? "record" : "line", .out = out };
	ij->events = o->events;
	ij->msgpack = o->msgpack;
	int rc = job_prepare(&ij->j, len, err);
	if (!rc)
		rc = fresh_log(&ij->j, err);
	/* a new workspace's whole log: an id repeated makes nothing there
	 * (since 0.3.45; before, it was found in the first commit, after
	 * LMDB's files were made) */
	if (!rc && o->events && o->fresh)
		rc = ids_once(&ij->j, err);
	if (rc) {
		import_job_free(ij);
		return rc;
	}
	ij->prep = *out;
	ij->j.o = NULL; /* the run's own, then */
	ij->j.out = NULL;
	*jobp = ij;
	return 0;
}

void import_job_free(import_job *ij)
{
	if (!ij)
		return;
	job_free(&ij->j);
	free(ij);
}

int import_check(const uint8_t *in, size_t len, const import_opts *o,
		 import_out *out, tl_err *err)
{
	import_job *ij;
	int rc = import_prepare(in, len, o, out, &ij, err);
	import_job_free(ij);
	return rc;
}

static int job_run(tl_db *db, job *j, tl_err *err);

int import_run(tl_db *db, const uint8_t *in, size_t len,
	       const import_opts *o, import_out *out, tl_err *err)
{
	job j = { .in = in, .o = o, .unit = o->msgpack ? "record" : "line",
		  .out = out };
	int rc = job_prepare(&j, len, err);
	if (!rc)
		rc = job_run(db, &j, err);
	job_free(&j);
	return rc;
}

int import_run_job(tl_db *db, import_job *ij, const import_opts *o,
		   import_out *out, tl_err *err)
{
	if (o->events != ij->events || o->msgpack != ij->msgpack)
		return tl_err_set(err, TL_EINVALID, "input",
				  "prepared as another kind of input");
	ij->j.o = o;
	ij->j.out = out;
	*out = ij->prep;
	err->index = -1;
	int rc = job_run(db, &ij->j, err);
	ij->j.o = NULL;
	ij->j.out = NULL;
	return rc;
}

/* The records of a prepared job run: the workspace's checks, then the
 * batches. */
static int job_run(tl_db *db, job *j, tl_err *err)
{
	const import_opts *o = j->o;
	import_out *out = j->out;
	int rc = fresh_log(j, err);
	/* the arguments (every record's form) before the look-ups */
	if (!rc && o->need_admin)
		rc = tl_need_admin(db, o->ctx,
				   o->events ? "import --events" : "import",
				   err);
	/* An empty input runs one empty transaction: the actor is checked
	 * and the outcome said as for any other. */
	size_t step = o->batch && o->batch < j->n && !o->check ? o->batch
							       : j->n;
	/* Each tl_txn_import call refuses an id repeated among its own
	 * records; in several calls (commits, or the chunks of one), the
	 * whole input is checked first. */
	if (!rc && o->events && (step < j->n || j->n > EV_CHUNK) &&
	    !j->ids_checked)
		rc = ids_once(j, err);
	int full = 0; /* a full map, grown, for the batch at hand */
	if (!rc && o->progress) /* the records begin to run: the rate's 0 */
		o->progress(o->progress_arg, 0, j->n);
	for (size_t at = 0; !rc;) {
		if (o->stop && *o->stop) /* a signal: no batch begins */
			break;
		size_t k = j->n - at < step ? j->n - at : step;
		/* A new workspace's first commit holds its settings and its
		 * first admin (events 1 and 2) together.  Only a new one's:
		 * until 0.3.54 every --events import took two records at
		 * first, so --batch 1 onto a backup whose second record did
		 * not chain imported nothing, not the first. */
		if (o->events && o->fresh && at == 0 && k < 2 && j->n >= 2)
			k = 2;
		rc = run_batch(db, j, at, at + k, out, err);
		if (rc == TL_EAGAIN && ++full <= 8) {
			rc = 0; /* the map was full and is grown: again */
			continue;
		}
		if (rc == TL_EAGAIN) /* growing it failed, or never helps */
			rc = tl_err_set(err, TL_ESTORAGE, "storage",
					"the map is full, and growing it "
					"did not make room");
		full = 0;
		at += k;
		if (at >= j->n)
			break;
	}
	return rc;
}
