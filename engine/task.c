/*
 * task.c - the task model: enums and their tokens, text rules, the task
 * document codec and the fold, the one place that says what each task
 * event does to a task.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "internal.h"

const char *const tl_type_tokens[TL_TYPE_COUNT] = {
	"call", "email", "message", "meeting", "chat",
	"proposal", "note", "task", "follow_up", "demo"
};
const char *const tl_status_tokens[TL_STATUS_COUNT] = {
	"todo", "in_progress", "on_hold", "completed", "cancelled"
};
const char *const tl_entity_tokens[TL_ENTITY_COUNT] = {
	"contact", "lead", "account", "opportunity"
};

int tl_token_find(const char *const *table, int n, tl_slice s)
{
	if (!s.p)
		return -1;
	for (int i = 0; i < n; i++)
		if (tl_slice_eq(s, table[i]))
			return i;
	return -1;
}

/* Whether the whole UTF-8 character p[0..n) is one a message must not
 * show as it is: a format character (bidirectional overrides, isolates
 * and marks, the soft hyphen, zero-width spaces and joiners, the byte
 * order mark) or a line or paragraph separator, which hide or move what
 * the message quotes. */
static bool unseen(const unsigned char *p, size_t n)
{
	int32_t cp = p[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
	for (size_t k = 1; k < n; k++)
		cp = cp << 6 | (p[k] & 0x3f);
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_ZL ||
	       c == UTF8PROC_CATEGORY_ZP;
}

/* Quote a value for a message: printable ASCII and whole UTF-8
 * characters kept, but for C1 controls, format characters and line or
 * paragraph separators (see unseen); control characters, a backslash
 * and bytes that are not UTF-8 as \xNN, a character's bytes escaped
 * together; long values cut with "..." after about 40 bytes, at the
 * start of a character that begins a grapheme cluster, so never inside a
 * character, its escape, a letter with its marks or an emoji sequence
 * (before 0.3.51 a cut could fall between the bytes of an escaped
 * character, or after a letter before its accent), as room allows. */
static const char *quote(tl_slice s, char *buf, size_t cap, size_t max)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;
	utf8proc_int32_t prev = -1, state = 0;
	bool escaped = true; /* the last character was (a mark first would
				sit on the quote before it) */
	if (cap < 4) { /* no room for "..." (the header asks for 48) */
		if (cap)
			buf[0] = 0;
		return buf;
	}
	if (!s.p) /* absent: quoted as empty */
		s.len = 0;
	for (size_t i = 0; i < s.len;) {
		const unsigned char *p = (const unsigned char *)s.p + i;
		size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
		bool whole = n <= s.len - i &&
			     (n == 1 || tl_utf8_valid((const char *)p, n));
		if (!whole)
			n = 1;
		utf8proc_int32_t cp = -1;
		if (whole)
			utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
		bool starts = prev < 0 || cp < 0 ||
			      utf8proc_grapheme_break_stateful(prev, cp, &state);
		if (cp < 0)
			state = 0;
		prev = cp;
		bool raw = whole && (n == 1 ? p[0] >= 0x20 && p[0] < 0x7f &&
						      p[0] != '\\'
					    : !(p[0] == 0xc2 && p[1] <= 0x9f) &&
						      !unseen(p, n));
		/* a mark after an escape would sit on its last hex digit */
		if (raw && escaped && n > 1) {
			utf8proc_category_t c = utf8proc_category(cp);
			raw = c != UTF8PROC_CATEGORY_MN &&
			      c != UTF8PROC_CATEGORY_ME &&
			      c != UTF8PROC_CATEGORY_MC;
		}
		escaped = !raw;
		size_t len = raw ? n : 4 * n;
		if ((o >= max && starts) || o + len + 4 > cap) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (raw) {
			memcpy(buf + o, p, n);
			o += n;
		} else {
			for (size_t k = 0; k < n; k++) {
				buf[o++] = '\\';
				buf[o++] = 'x';
				buf[o++] = hx[p[k] >> 4];
				buf[o++] = hx[p[k] & 15];
			}
		}
		i += n;
	}
	buf[o] = 0;
	return buf;
}

const char *tl_quote(tl_slice s, char *buf, size_t cap)
{
	return quote(s, buf, cap, 40);
}

const char *tl_quote_max(tl_slice s, size_t max, char *buf, size_t cap)
{
	return quote(s, buf, cap, max);
}

/* True when every byte of s is printable ASCII (0x20..0x7e): the common
 * case, checked 8 bytes at a time; anything else takes the full checks. */
static bool printable_ascii(tl_slice s)
{
	const uint64_t ones = 0x0101010101010101u, high = ones << 7;
	size_t i = 0;
	for (; i + 8 <= s.len; i += 8) {
		uint64_t w;
		memcpy(&w, s.p + i, 8);
		/* a high bit, a byte below 0x20, or a byte equal to 0x7f */
		if ((w & high) || ((w - ones * 0x20) & ~w & high) ||
		    (((w ^ ones * 0x7f) - ones) & ~(w ^ ones * 0x7f) & high))
			return false;
	}
	for (; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* The length of the space character (Unicode categories Zs, Zl, Zp;
 * UTF-8) at p, or 0. */
static size_t space_at(const unsigned char *p, size_t n)
{
	if (p[0] == ' ')
		return 1;
	if (n >= 2 && p[0] == 0xc2 && p[1] == 0xa0) /* U+00A0 */
		return 2;
	if (n < 3)
		return 0;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) || /* U+1680 */
	    (p[0] == 0xe2 && p[1] == 0x80 &&
	     (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 ||
	      p[2] == 0xaf)) || /* U+2000..200A, 2028, 2029, 202F */
	    (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) || /* U+205F */
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))   /* U+3000 */
		return 3;
	return 0;
}

/* Whether s begins or ends with a space character (as space_at). */
static bool ends_in_space(tl_slice s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	if (!s.len)
		return false;
	if (space_at(p, s.len))
		return true;
	for (size_t k = 1; k <= 3 && k <= s.len; k++)
		if (space_at(p + s.len - k, k) == k)
			return true;
	return false;
}

/* Whether s (valid UTF-8) shows nothing: spaces (as space_at) and
 * default-ignorable code points alone (zero-width spaces and joiners,
 * the byte order mark, the soft hyphen, Hangul fillers, variation
 * selectors...: utf8proc's `ignorable`, Unicode's
 * Default_Ignorable_Code_Point; since 0.3.42, before which such a text
 * counted as text). */
static bool blank(tl_slice s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	for (size_t i = 0, k; i < s.len; i += k) {
		if ((k = space_at(p + i, s.len - i)))
			continue;
		if (p[i] < 0x80) /* ASCII: a letter, digit or sign shows */
			return false;
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(
			p + i, (utf8proc_ssize_t)(s.len - i), &cp);
		if (n <= 0 || !utf8proc_get_property(cp)->ignorable)
			return false;
		k = (size_t)n;
	}
	return true;
}

int tl_check_text(tl_slice s, const char *field, size_t min, size_t max,
		  bool any_control, tl_err *err)
{
	char q[64];
	if (!s.p && min) /* not given at all */
		return tl_err_set(err, TL_EINVALID, field, "is required");
	if (!s.p || s.len < min) {
		if (min <= 1)
			return tl_err_set(err, TL_EINVALID, field,
					  "must not be empty");
		return tl_err_set(err, TL_EINVALID, field,
				  "must be at least %zu bytes", min);
	}
	if (s.len > max)
		return tl_err_set(err, TL_EINVALID, field,
				  "is %zu bytes, at most %zu allowed", s.len,
				  max);
	bool ascii = printable_ascii(s);
	if (!ascii && !tl_utf8_valid(s.p, s.len))
		return tl_err_set(err, TL_EINVALID, field,
				  "is not valid UTF-8: '%s'",
				  quote(s, q, sizeof q, 40));
	/* A required text of spaces alone says nothing (a list would show
	 * an empty line): refused as empty text is.  (After the UTF-8 check:
	 * the spaces are read as characters, and E2 80 41 is none.) */
	if (min && !any_control && blank(s))
		return tl_err_set(err, TL_EINVALID, field,
				  "must not be blank (spaces or invisible "
				  "characters only)");
	if (ascii)
		return 0;
	/* Strings are kept NUL-terminated: a NUL would cut them. */
	if (memchr(s.p, 0, s.len))
		return tl_err_set(err, TL_EINVALID, field,
				  "contains a NUL byte: '%s'",
				  quote(s, q, sizeof q, 40));
	if (any_control)
		return 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		bool ctl = c < 0x20 || c == 0x7f;
		/* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
		if (c == 0xc2 && i + 1 < s.len &&
		    (unsigned char)s.p[i + 1] < 0xa0)
			ctl = true;
		if (ctl)
			return tl_err_set(err, TL_EINVALID, field,
					  "contains a control character: '%s'",
					  quote(s, q, sizeof q, 40));
	}
	return 0;
}

int tl_record_parse(tl_slice s, const char *field, int *type, tl_slice *id,
		    tl_err *err)
{
	char q[64];
	bool link = !strcmp(field, "link");
	const char *colon = s.p ? memchr(s.p, ':', s.len) : NULL;
	if (!s.p)
		return tl_err_set(err, TL_EINVALID, field,
				  "is required (TYPE:ID, e.g. lead:42)");
	if (!s.len)
		return tl_err_set(err, TL_EINVALID, field,
				  "must not be empty (TYPE:ID, e.g. lead:42)");
	if (!colon || colon == s.p)
		return tl_err_set(err, TL_EINVALID, field,
				  "'%s' is not TYPE:ID (e.g. lead:42)",
				  quote(s, q, sizeof q, 40));
	tl_slice t = { s.p, (size_t)(colon - s.p) };
	*type = tl_token_find(tl_entity_tokens, TL_ENTITY_COUNT, t);
	if (*type < 0)
		return tl_err_set(err, TL_EINVALID, link ? "link.type" : field,
				  "unknown value '%s' (one of: contact, lead, "
				  "account, opportunity)",
				  quote(t, q, sizeof q, 40));
	*id = (tl_slice){ colon + 1, s.len - t.len - 1 };
	if (!id->len)
		return tl_err_set(err, TL_EINVALID, link ? "link.id" : field,
				  "'%s' has no id after its colon",
				  quote(s, q, sizeof q, 40));
	/* (min 0 for a query, which the empty case above covers: it still
	 * finds a record of spaces an older release made) */
	int rc = tl_check_text(*id, link ? "link.id" : field, link ? 1 : 0,
			       TL_LINK_ID_MAX, false, err);
	/* "lead:42 " would be another record than "lead:42": refused for
	 * a new link (a query still finds a record an older release made
	 * so). */
	if (!rc && link && ends_in_space(*id))
		rc = tl_err_set(err, TL_EINVALID, "link.id",
				"'%s' begins or ends with a space",
				quote(*id, q, sizeof q, 40));
	return rc;
}

/* ---- task struct -----------------------------------------------------
 * Every string of a task lives in one block (t->mem_): setting a field
 * appends its new value there, and a full block is replaced by one that
 * holds only the live strings, so a task costs one allocation for its
 * strings (and one for its tag list) instead of one per string.  A value
 * replaced or cleared stays in the block as garbage until then. */

/* The string fields of t, for the block's compaction and copies. */
static int str_slots(tl_task *t, char ***slot)
{
	slot[0] = &t->title;
	slot[1] = &t->assignee;
	slot[2] = &t->notes;
	slot[3] = &t->link_id;
	slot[4] = &t->created_by;
	slot[5] = &t->pipeline;
	slot[6] = &t->stage;
	return 7;
}

/* Room for n more bytes in the block.  Slices being stored must not point
 * into the block itself (none does: they come from commands, events and
 * documents). */
static bool mem_reserve(tl_task *t, size_t n)
{
	char **slot[7];
	int k = str_slots(t, slot);
	if (t->mem_cap_ - t->mem_len_ >= n)
		return true;
	size_t live = n;
	for (int i = 0; i < k; i++)
		live += *slot[i] ? strlen(*slot[i]) + 1 : 0;
	for (size_t i = 0; i < t->tags_len; i++)
		live += strlen(t->tags[i]) + 1;
	size_t cap = live < 128 ? 256 : 2 * live;
	char *m = malloc(cap), *p = m;
	if (!m)
		return false;
	for (int i = 0; i < k; i++)
		if (*slot[i]) {
			size_t len = strlen(*slot[i]) + 1;
			memcpy(p, *slot[i], len);
			*slot[i] = p;
			p += len;
		}
	for (size_t i = 0; i < t->tags_len; i++) {
		size_t len = strlen(t->tags[i]) + 1;
		memcpy(p, t->tags[i], len);
		t->tags[i] = p;
		p += len;
	}
	free(t->mem_);
	t->mem_ = m;
	t->mem_len_ = (size_t)(p - m);
	t->mem_cap_ = cap;
	return true;
}

/* A copy of s in t's block (NULL: out of memory). */
static char *mem_put(tl_task *t, tl_slice s)
{
	if (!mem_reserve(t, s.len + 1))
		return NULL;
	char *p = t->mem_ + t->mem_len_;
	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = 0;
	t->mem_len_ += s.len + 1;
	return p;
}

void tl_task_release(tl_task *t)
{
	if (!t)
		return;
	free(t->mem_);
	free(t->tags);
	memset(t, 0, sizeof *t);
}

/* Set *dst, a string field of t, to a copy of s (NULL p clears). */
static int set_str(tl_task *t, char **dst, tl_slice s)
{
	char *p = NULL;
	if (s.p && !(p = mem_put(t, s)))
		return TL_ESTORAGE;
	*dst = p;
	return 0;
}

/* A copy of the block as it is, dead strings and all (copies live as long
 * as an event: "before" states), every string pointer moved along: a
 * memcpy instead of a strlen and copy per string. */
int tl_task_copy(tl_task *dst, const tl_task *src)
{
	char **from[7], **to[7];
	int k = str_slots((tl_task *)src, from);
	size_t n = src->mem_len_;
	*dst = *src;
	dst->tags = NULL;
	dst->tags_len = dst->tags_cap_ = 0;
	dst->mem_len_ = dst->mem_cap_ = 0;
	str_slots(dst, to);
	for (int i = 0; i < k; i++)
		*to[i] = NULL;
	if (!(dst->mem_ = malloc(n ? n : 1)))
		return TL_ESTORAGE;
	if (n)
		memcpy(dst->mem_, src->mem_, n);
	dst->mem_len_ = n;
	dst->mem_cap_ = n ? n : 1;
	if (src->tags_len &&
	    !(dst->tags = malloc(src->tags_len * sizeof *dst->tags))) {
		tl_task_release(dst);
		return TL_ESTORAGE;
	}
	for (int i = 0; i < k; i++)
		if (*from[i])
			*to[i] = dst->mem_ + (*from[i] - src->mem_);
	for (size_t i = 0; i < src->tags_len; i++)
		dst->tags[i] = dst->mem_ + (src->tags[i] - src->mem_);
	dst->tags_len = dst->tags_cap_ = src->tags_len;
	return 0;
}

bool tl_task_has_tag(const tl_task *t, tl_slice tag)
{
	for (size_t i = 0; i < t->tags_len; i++)
		if (tl_slice_eq(tag, t->tags[i]))
			return true;
	return false;
}

static int tag_add(tl_task *t, tl_slice tag)
{
	if (tl_task_has_tag(t, tag))
		return 0;
	if (t->tags_len == t->tags_cap_) {
		size_t cap = t->tags_cap_ ? 2 * t->tags_cap_ : 4;
		char **n = realloc(t->tags, cap * sizeof *n);
		if (!n)
			return TL_ESTORAGE;
		t->tags = n;
		t->tags_cap_ = cap;
	}
	char *p = mem_put(t, tag);
	if (!p)
		return TL_ESTORAGE;
	t->tags[t->tags_len++] = p;
	return 0;
}

static void tag_remove(tl_task *t, tl_slice tag)
{
	for (size_t i = 0; i < t->tags_len; i++) {
		if (tl_slice_eq(tag, t->tags[i])) {
			memmove(t->tags + i, t->tags + i + 1,
				(t->tags_len - i - 1) * sizeof *t->tags);
			t->tags_len--;
			return;
		}
	}
}

/* ---- document codec -------------------------------------------------- */

bool tl_task_encode(const tl_task *t, msgpack_sbuffer *sb)
{
	msgpack_sbuffer_clear(sb);
	return tl_task_pack(sb, t);
}

static size_t opt_len(const char *s)
{
	return s ? strlen(s) : 0;
}

static uint8_t *w_opt(uint8_t *p, const char *s, size_t n)
{
	return s ? tl_w_str(p, s, n) : tl_w_nil(p);
}

bool tl_task_pack(msgpack_sbuffer *sb, const tl_task *t)
{
	char id[37];
	size_t title = opt_len(t->title), assignee = opt_len(t->assignee),
	       notes = opt_len(t->notes), link_id = opt_len(t->link_id),
	       by = opt_len(t->created_by), pipeline = opt_len(t->pipeline),
	       stage = opt_len(t->stage), tags = 0;
	for (size_t i = 0; i < t->tags_len; i++)
		tags += TL_W_STR(strlen(t->tags[i]));
	/* Keys and fixed fields take under 400 bytes. */
	size_t bound = 512 + TL_W_STR(title) + TL_W_STR(assignee) +
		       TL_W_STR(notes) + TL_W_STR(link_id) + TL_W_STR(by) +
		       TL_W_STR(pipeline) + TL_W_STR(stage) + tags;
	uint8_t *p = tl_w_begin(sb, bound);
	if (!p)
		return false;
	tl_uuid_format(t->id, id);
	p = tl_w_map(p, 19);
	p = TL_WK(p, "id");
	p = tl_w_str(p, id, 36);
	p = TL_WK(p, "title");
	p = w_opt(p, t->title, title);
	p = TL_WK(p, "type");
	p = tl_w_cstr(p, tl_type_tokens[t->type]);
	p = TL_WK(p, "status");
	p = tl_w_cstr(p, tl_status_tokens[t->status]);
	p = TL_WK(p, "due_at");
	p = tl_w_time_or_nil(p, t->has_due, t->due_at);
	p = TL_WK(p, "assignee");
	p = w_opt(p, t->assignee, assignee);
	p = TL_WK(p, "notes");
	p = w_opt(p, t->notes, notes);
	p = TL_WK(p, "link");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "type");
	p = tl_w_cstr(p, tl_entity_tokens[t->link_type]);
	p = TL_WK(p, "id");
	p = w_opt(p, t->link_id, link_id);
	p = TL_WK(p, "created_at");
	p = tl_w_time(p, t->created_at);
	p = TL_WK(p, "created_by");
	p = tl_w_map(p, 2);
	p = TL_WK(p, "id");
	p = w_opt(p, t->created_by, by);
	p = TL_WK(p, "kind");
	p = t->created_by_system ? TL_WK(p, "system") : TL_WK(p, "user");
	p = TL_WK(p, "updated_at");
	p = tl_w_time(p, t->updated_at);
	p = TL_WK(p, "completed_at");
	p = tl_w_time_or_nil(p, t->has_completed, t->completed_at);
	p = TL_WK(p, "pipeline");
	p = w_opt(p, t->pipeline, pipeline);
	p = TL_WK(p, "stage");
	p = w_opt(p, t->stage, stage);
	p = TL_WK(p, "tags");
	p = tl_w_array(p, (uint32_t)t->tags_len);
	for (size_t i = 0; i < t->tags_len; i++)
		p = tl_w_cstr(p, t->tags[i]);
	p = TL_WK(p, "automation");
	p = tl_w_nil(p);
	p = TL_WK(p, "version");
	p = tl_w_u64(p, t->version);
	p = TL_WK(p, "deleted");
	p = tl_w_bool(p, t->deleted);
	p = TL_WK(p, "created_seq");
	p = tl_w_u64(p, t->created_seq);
	tl_w_end(sb, p);
	return true;
}

/* Field readers of a decoded document: o is the field's value (NULL when
 * the document lacks it, which is an error). */
static int get_str(tl_task *t, const msgpack_object *o, char **out,
		   bool nullable)
{
	if (!o)
		return TL_ESTORAGE;
	if (o->type == MSGPACK_OBJECT_NIL && nullable)
		return 0;
	tl_slice s = tl_obj_slice(o);
	if (!s.p)
		return TL_ESTORAGE;
	return set_str(t, out, s);
}

static int get_time(const msgpack_object *o, bool *has, int64_t *out)
{
	if (!o)
		return TL_ESTORAGE;
	if (o->type == MSGPACK_OBJECT_NIL && has) {
		*has = false;
		return 0;
	}
	if (!tl_obj_time(o, out))
		return TL_ESTORAGE;
	if (has)
		*has = true;
	return 0;
}

static int get_u64(const msgpack_object *o, uint64_t *out)
{
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return TL_ESTORAGE;
	*out = o->via.u64;
	return 0;
}

static int get_enum(const msgpack_object *o, const char *const *table, int n,
		    int *out)
{
	*out = tl_token_find(table, n, tl_obj_slice(o));
	return *out < 0 ? TL_ESTORAGE : 0;
}

int tl_task_unpack(const uint8_t *doc, size_t len, tl_task *t,
		   msgpack_zone *zone)
{
	/* The fields of tl_task_pack, picked in one pass over the map. */
	enum { ID, TITLE, TYPE, STATUS, DUE, ASSIGNEE, NOTES, LINK, CREATED,
	       BY, UPDATED, COMPLETED, PIPELINE, STAGE, TAGS, VERSION, DELETED,
	       SEQ, N_FIELDS };
	static const char *const keys[N_FIELDS] = {
		"id", "title", "type", "status", "due_at", "assignee", "notes",
		"link", "created_at", "created_by", "updated_at",
		"completed_at", "pipeline", "stage", "tags", "version",
		"deleted", "created_seq"
	};
	static const char *const link_keys[2] = { "type", "id" };
	static const char *const by_keys[2] = { "id", "kind" };
	const msgpack_object *f[N_FIELDS], *l[2], *b[2];
	msgpack_object m;
	size_t off = 0;
	memset(t, 0, sizeof *t);
	if (tl_mp_unpack(doc, len, &off, zone, &m) !=
	    MSGPACK_UNPACK_SUCCESS || m.type != MSGPACK_OBJECT_MAP)
		return TL_ESTORAGE;
	tl_map_pick(&m, keys, N_FIELDS, f);
	tl_map_pick(f[LINK], link_keys, 2, l);
	tl_map_pick(f[BY], by_keys, 2, b);
	const msgpack_object *tags = f[TAGS], *del = f[DELETED];
	int rc = 0;
	if (!tl_uuid_parse(tl_obj_slice(f[ID]), t->id))
		rc = TL_ESTORAGE;
	if (!rc) rc = get_str(t, f[TITLE], &t->title, false);
	if (!rc) rc = get_enum(f[TYPE], tl_type_tokens, TL_TYPE_COUNT,
			       &t->type);
	if (!rc) rc = get_enum(f[STATUS], tl_status_tokens, TL_STATUS_COUNT,
			       &t->status);
	if (!rc) rc = get_time(f[DUE], &t->has_due, &t->due_at);
	if (!rc) rc = get_str(t, f[ASSIGNEE], &t->assignee, true);
	if (!rc) rc = get_str(t, f[NOTES], &t->notes, true);
	if (!rc) rc = get_enum(l[0], tl_entity_tokens, TL_ENTITY_COUNT,
			       &t->link_type);
	if (!rc) rc = get_str(t, l[1], &t->link_id, false);
	if (!rc) rc = get_time(f[CREATED], NULL, &t->created_at);
	if (!rc) rc = get_str(t, b[0], &t->created_by, false);
	if (!rc) t->created_by_system = tl_obj_is_str(b[1], "system");
	if (!rc) rc = get_time(f[UPDATED], NULL, &t->updated_at);
	if (!rc) rc = get_time(f[COMPLETED], &t->has_completed,
			       &t->completed_at);
	if (!rc) rc = get_str(t, f[PIPELINE], &t->pipeline, true);
	if (!rc) rc = get_str(t, f[STAGE], &t->stage, true);
	if (!rc) rc = get_u64(f[VERSION], &t->version);
	if (!rc) rc = get_u64(f[SEQ], &t->created_seq);
	if (!rc && (!tags || tags->type != MSGPACK_OBJECT_ARRAY))
		rc = TL_ESTORAGE;
	for (uint32_t i = 0; !rc && i < tags->via.array.size; i++) {
		tl_slice s = tl_obj_slice(&tags->via.array.ptr[i]);
		rc = s.p ? tag_add(t, s) : TL_ESTORAGE;
	}
	if (!rc && (!del || del->type != MSGPACK_OBJECT_BOOLEAN))
		rc = TL_ESTORAGE;
	if (!rc)
		t->deleted = del->via.boolean;
	if (rc)
		tl_task_release(t);
	return rc;
}

/* ---- the fold -------------------------------------------------------- */

static const char *const ev_names[TL_EV_COUNT] = {
	"task.created", "task.updated", "task.assigned",
	"task.status_changed", "task.completed", "task.tagged",
	"task.untagged", "task.deleted"
};

const char *tl_change_type(int kind)
{
	return kind >= 0 && kind < TL_EV_COUNT ? ev_names[kind] : NULL;
}

/* A string of a task event: no command ever wrote one with a NUL (it
 * refused it, as a control character or since be63f50 by name), and the
 * task keeps its strings as C strings, where a NUL would cut it (a
 * fuzzer's tags "a\0b" and "a\0c" became two "a"s, and the stored task
 * then differed from its events).  So such a string is no event's. */
static bool rd_text(tl_rd *r, tl_slice *s)
{
	return tl_rd_str(r, s) && !(s->len && memchr(s->p, 0, s->len));
}

/* A string field: present strings are kept, nil only when nullable. */
static int ch_str(const tl_rd *o, bool nullable, unsigned bit,
		  unsigned *set, tl_slice *out)
{
	tl_rd r = *o;
	if (!o->p)
		return 0;
	*set |= bit;
	if (nullable && tl_rd_nil(o)) {
		*out = (tl_slice){ NULL, 0 };
		return 0;
	}
	return rd_text(&r, out) ? 0 : TL_ESTORAGE;
}

static int ch_enum(const tl_rd *o, const char *const *table, int n,
		   unsigned bit, unsigned *set, int *out)
{
	tl_rd r = *o;
	tl_slice s;
	if (!o->p)
		return 0;
	if (!tl_rd_str(&r, &s) || (*out = tl_token_find(table, n, s)) < 0)
		return TL_ESTORAGE;
	*set |= bit;
	return 0;
}

static int ch_due(const tl_rd *o, tl_change *ch)
{
	tl_rd r = *o;
	if (!o->p)
		return 0;
	ch->set |= TL_CH_DUE;
	ch->has_due = !tl_rd_nil(o);
	ch->due = 0;
	return !ch->has_due || tl_rd_time(&r, &ch->due) ? 0 : TL_ESTORAGE;
}

/* The fields of a map value one level inside the data (none when it is
 * not a map). */
static bool pick_in(const tl_rd *v, const char *const *keys, size_t n,
		    tl_rd *out)
{
	tl_rd r = *v;
	for (size_t j = 0; j < n; j++)
		out[j] = (tl_rd){ NULL, NULL };
	if (!tl_rd_at_map(v))
		return true;
	return tl_rd_pick(&r, TL_MP_DEPTH - 1, keys, n, out);
}

static int decode_created(const tl_event *ev, tl_rd *d, tl_change *ch,
			  msgpack_zone *zone)
{
	static const char *const keys[] = {
		"title", "type", "status", "due_at", "assignee", "notes",
		"link", "pipeline", "stage", "tags"
	};
	static const char *const link_keys[] = { "type", "id" };
	tl_rd f[10], l[2];
	unsigned *s = &ch->set;
	int rc;
	if (!tl_rd_pick(d, TL_MP_DEPTH, keys, 10, f) ||
	    !pick_in(&f[6], link_keys, 2, l))
		return TL_ESTORAGE;
	if (!tl_uuid_parse(ev->stream, ch->id) || !f[6].p)
		return TL_ESTORAGE;
	if ((rc = ch_str(&f[0], false, TL_CH_TITLE, s, &ch->title)) ||
	    (rc = ch_enum(&f[1], tl_type_tokens, TL_TYPE_COUNT, TL_CH_TYPE, s,
			  &ch->type)) ||
	    (rc = ch_enum(&f[2], tl_status_tokens, TL_STATUS_COUNT,
			  TL_CH_STATUS, s, &ch->status)) ||
	    (rc = ch_due(&f[3], ch)) ||
	    (rc = ch_str(&f[4], true, TL_CH_ASSIGNEE, s, &ch->assignee)) ||
	    (rc = ch_str(&f[5], true, TL_CH_NOTES, s, &ch->notes)) ||
	    (rc = ch_enum(&l[0], tl_entity_tokens, TL_ENTITY_COUNT,
			  TL_CH_LINK_TYPE, s, &ch->link_type)) ||
	    (rc = ch_str(&l[1], false, TL_CH_LINK_ID, s, &ch->link_id)) ||
	    (rc = ch_str(&f[7], true, TL_CH_PIPELINE, s, &ch->pipeline)) ||
	    (rc = ch_str(&f[8], true, TL_CH_STAGE, s, &ch->stage)))
		return rc;
	/* tags: an array of strings; anything else there is ignored */
	tl_rd t = f[9];
	uint32_t n;
	if (tl_rd_at_array(&t)) {
		if (!tl_rd_array(&t, &n))
			return TL_ESTORAGE;
		tl_slice *v = n ? msgpack_zone_malloc(zone, n * sizeof *v)
				: NULL;
		if (n && !v)
			return TL_ESTORAGE;
		for (uint32_t i = 0; i < n; i++)
			if (!rd_text(&t, &v[i]))
				return TL_ESTORAGE;
		ch->tags = v;
		ch->tags_len = n;
	}
	return 0;
}

int tl_change_decode(const tl_event *ev, tl_change *ch, msgpack_zone *zone)
{
	tl_rd d = { ev->data, ev->data + ev->data_len };
	unsigned *s = &ch->set;
	memset(ch, 0, sizeof *ch);
	ch->kind = -1;
	for (int k = 0; k < TL_EV_COUNT; k++)
		if (tl_slice_eq(ev->type, ev_names[k]))
			ch->kind = k;
	/* data: one map, and nothing after it */
	if (ch->kind < 0 || !tl_rd_at_map(&d))
		return TL_ESTORAGE;

	int rc = 0;
	switch (ch->kind) {
	case TL_EV_CREATED:
		rc = decode_created(ev, &d, ch, zone);
		break;
	case TL_EV_UPDATED: {
		static const char *const top[] = { "changes" };
		static const char *const keys[] = { "title", "type", "due_at",
						    "notes" };
		tl_rd c, f[4];
		if (!tl_rd_pick(&d, TL_MP_DEPTH, top, 1, &c) || !c.p ||
		    !pick_in(&c, keys, 4, f))
			return TL_ESTORAGE;
		if ((rc = ch_str(&f[0], false, TL_CH_TITLE, s, &ch->title)) ||
		    (rc = ch_enum(&f[1], tl_type_tokens, TL_TYPE_COUNT,
				  TL_CH_TYPE, s, &ch->type)) ||
		    (rc = ch_due(&f[2], ch)))
			break;
		rc = ch_str(&f[3], true, TL_CH_NOTES, s, &ch->notes);
		break;
	}
	case TL_EV_ASSIGNED: {
		static const char *const keys[] = { "assignee" };
		tl_rd a;
		if (!tl_rd_pick(&d, TL_MP_DEPTH, keys, 1, &a) || !a.p)
			return TL_ESTORAGE;
		rc = ch_str(&a, true, TL_CH_ASSIGNEE, s, &ch->assignee);
		break;
	}
	case TL_EV_STATUS_CHANGED: {
		static const char *const keys[] = { "status" };
		tl_rd st;
		if (!tl_rd_pick(&d, TL_MP_DEPTH, keys, 1, &st) ||
		    ch_enum(&st, tl_status_tokens, TL_STATUS_COUNT,
			    TL_CH_STATUS, s, &ch->status) ||
		    !(ch->set & TL_CH_STATUS))
			return TL_ESTORAGE;
		break;
	}
	case TL_EV_TAGGED:
	case TL_EV_UNTAGGED: {
		static const char *const keys[] = { "tag" };
		tl_rd t;
		if (!tl_rd_pick(&d, TL_MP_DEPTH, keys, 1, &t) || !t.p ||
		    !rd_text(&t, &ch->tag))
			return TL_ESTORAGE;
		break;
	}
	default: /* completed (its data repeats the status), deleted */
		if (ch->kind == TL_EV_COMPLETED) {
			ch->set = TL_CH_STATUS;
			ch->status = TL_ST_COMPLETED;
		}
		if (!tl_rd_pick(&d, TL_MP_DEPTH, NULL, 0, NULL))
			return TL_ESTORAGE;
	}
	if (rc)
		return rc;
	return d.p == d.end ? 0 : TL_ESTORAGE;
}

/* Replace *dst with a copy of s when bit is set (NULL p clears). */
static int apply_str(tl_task *t, char **dst, const tl_change *ch,
		     unsigned bit, tl_slice s)
{
	return ch->set & bit ? set_str(t, dst, s) : 0;
}

static void set_status(tl_task *t, int status, int64_t at)
{
	if (status == TL_ST_COMPLETED && t->status != TL_ST_COMPLETED) {
		t->has_completed = true;
		t->completed_at = at;
	} else if (status != TL_ST_COMPLETED) {
		t->has_completed = false;
		t->completed_at = 0;
	}
	t->status = status;
}

static int apply_created(tl_task *t, const tl_event *ev, const tl_change *ch)
{
	int rc;
	memcpy(t->id, ch->id, 16);
	t->type = ch->set & TL_CH_TYPE ? ch->type : 7; /* "task" */
	if (ch->set & TL_CH_LINK_TYPE)
		t->link_type = ch->link_type;
	if (ch->set & TL_CH_DUE) {
		t->has_due = ch->has_due;
		t->due_at = ch->due;
	}
	if ((rc = apply_str(t, &t->title, ch, TL_CH_TITLE, ch->title)) ||
	    (rc = apply_str(t, &t->assignee, ch, TL_CH_ASSIGNEE, ch->assignee)) ||
	    (rc = apply_str(t, &t->notes, ch, TL_CH_NOTES, ch->notes)) ||
	    (rc = apply_str(t, &t->link_id, ch, TL_CH_LINK_ID, ch->link_id)) ||
	    (rc = apply_str(t, &t->pipeline, ch, TL_CH_PIPELINE, ch->pipeline)) ||
	    (rc = apply_str(t, &t->stage, ch, TL_CH_STAGE, ch->stage)) ||
	    (rc = set_str(t, &t->created_by, ev->actor_id)))
		return rc;
	if (!t->title || !t->link_id)
		return TL_ESTORAGE;
	for (size_t i = 0; i < ch->tags_len; i++)
		if ((rc = tag_add(t, ch->tags[i])))
			return rc;
	t->created_by_system = tl_slice_eq(ev->actor_kind, "system");
	t->created_at = ev->at_ms;
	t->created_seq = ev->seq;
	t->status = TL_ST_TODO;
	set_status(t, ch->set & TL_CH_STATUS ? ch->status : TL_ST_TODO,
		   ev->at_ms);
	return 0;
}

int tl_task_apply(tl_task *t, const tl_event *ev, const tl_change *ch)
{
	int rc = 0;
	switch (ch->kind) {
	case TL_EV_CREATED:
		rc = apply_created(t, ev, ch);
		break;
	case TL_EV_UPDATED:
		if ((rc = apply_str(t, &t->title, ch, TL_CH_TITLE, ch->title)) ||
		    (rc = apply_str(t, &t->notes, ch, TL_CH_NOTES, ch->notes)))
			return rc;
		if (ch->set & TL_CH_TYPE)
			t->type = ch->type;
		if (ch->set & TL_CH_DUE) {
			t->has_due = ch->has_due;
			t->due_at = ch->due;
		}
		break;
	case TL_EV_ASSIGNED:
		rc = apply_str(t, &t->assignee, ch, TL_CH_ASSIGNEE, ch->assignee);
		break;
	case TL_EV_STATUS_CHANGED:
		set_status(t, ch->status, ev->at_ms);
		break;
	case TL_EV_COMPLETED:
		set_status(t, TL_ST_COMPLETED, ev->at_ms);
		break;
	case TL_EV_TAGGED:
		rc = tag_add(t, ch->tag);
		break;
	case TL_EV_UNTAGGED:
		tag_remove(t, ch->tag);
		break;
	case TL_EV_DELETED:
		t->deleted = true;
		break;
	default:
		return TL_ESTORAGE;
	}
	if (rc)
		return rc;
	t->updated_at = ev->at_ms;
	t->version = ev->version;
	return 0;
}

int tl_task_fold(tl_task *t, const tl_event *ev, msgpack_zone *zone)
{
	tl_change ch;
	int rc = tl_change_decode(ev, &ch, zone);
	return rc ? rc : tl_task_apply(t, ev, &ch);
}

/* ---- event data of a change ------------------------------------------ */

static uint8_t *w_slice(uint8_t *p, tl_slice s)
{
	return s.p ? tl_w_str(p, s.p, s.len) : tl_w_nil(p);
}

static size_t slice_bound(tl_slice s)
{
	return TL_W_STR(s.len);
}

/* The changed fields of task.updated, from ch (prev = NULL) or from the
 * task before it (prev). */
static uint8_t *w_update(uint8_t *p, const tl_change *ch, const tl_task *prev)
{
	unsigned s = ch->set;
	p = tl_w_map(p, (uint32_t)(!!(s & TL_CH_TITLE) + !!(s & TL_CH_TYPE) +
				   !!(s & TL_CH_DUE) + !!(s & TL_CH_NOTES)));
	if (s & TL_CH_TITLE) {
		p = TL_WK(p, "title");
		p = prev ? tl_w_cstr(p, prev->title)
			 : tl_w_str(p, ch->title.p, ch->title.len);
	}
	if (s & TL_CH_TYPE) {
		p = TL_WK(p, "type");
		p = tl_w_cstr(p, tl_type_tokens[prev ? prev->type : ch->type]);
	}
	if (s & TL_CH_DUE) {
		p = TL_WK(p, "due_at");
		p = prev ? tl_w_time_or_nil(p, prev->has_due, prev->due_at)
			 : tl_w_time_or_nil(p, ch->has_due, ch->due);
	}
	if (s & TL_CH_NOTES) {
		p = TL_WK(p, "notes");
		p = prev ? w_slice(p, tl_s(prev->notes)) : w_slice(p, ch->notes);
	}
	return p;
}

bool tl_change_pack(msgpack_sbuffer *sb, const tl_change *ch,
		    const tl_task *before)
{
	size_t bound = 256 + slice_bound(ch->title) +
		       slice_bound(ch->assignee) + slice_bound(ch->notes) +
		       slice_bound(ch->link_id) + slice_bound(ch->pipeline) +
		       slice_bound(ch->stage) + slice_bound(ch->tag);
	for (size_t i = 0; i < ch->tags_len; i++)
		bound += slice_bound(ch->tags[i]);
	if (before)
		bound += TL_W_STR(opt_len(before->title)) +
			 TL_W_STR(opt_len(before->notes)) +
			 TL_W_STR(opt_len(before->assignee));
	uint8_t *p = tl_w_begin(sb, bound);
	if (!p)
		return false;
	switch (ch->kind) {
	case TL_EV_CREATED:
		p = tl_w_map(p, 10);
		p = TL_WK(p, "title");
		p = w_slice(p, ch->title);
		p = TL_WK(p, "type");
		p = tl_w_cstr(p, tl_type_tokens[ch->type]);
		p = TL_WK(p, "status");
		p = tl_w_cstr(p, tl_status_tokens[ch->status]);
		p = TL_WK(p, "due_at");
		p = tl_w_time_or_nil(p, ch->has_due, ch->due);
		p = TL_WK(p, "assignee");
		p = w_slice(p, ch->assignee);
		p = TL_WK(p, "notes");
		p = w_slice(p, ch->notes);
		p = TL_WK(p, "link");
		p = tl_w_map(p, 2);
		p = TL_WK(p, "type");
		p = tl_w_cstr(p, tl_entity_tokens[ch->link_type]);
		p = TL_WK(p, "id");
		p = w_slice(p, ch->link_id);
		p = TL_WK(p, "pipeline");
		p = w_slice(p, ch->pipeline);
		p = TL_WK(p, "stage");
		p = w_slice(p, ch->stage);
		p = TL_WK(p, "tags");
		p = tl_w_array(p, (uint32_t)ch->tags_len);
		for (size_t i = 0; i < ch->tags_len; i++)
			p = tl_w_str(p, ch->tags[i].p, ch->tags[i].len);
		break;
	case TL_EV_UPDATED:
		if (!before)
			return false;
		p = tl_w_map(p, 2);
		p = TL_WK(p, "changes");
		p = w_update(p, ch, NULL);
		p = TL_WK(p, "previous");
		p = w_update(p, ch, before);
		break;
	case TL_EV_ASSIGNED:
		if (!before)
			return false;
		p = tl_w_map(p, 2);
		p = TL_WK(p, "assignee");
		p = w_slice(p, ch->assignee);
		p = TL_WK(p, "previous");
		p = w_slice(p, tl_s(before->assignee));
		break;
	case TL_EV_STATUS_CHANGED:
	case TL_EV_COMPLETED:
		if (!before)
			return false;
		p = tl_w_map(p, 2);
		p = TL_WK(p, "status");
		p = tl_w_cstr(p, tl_status_tokens[ch->kind == TL_EV_COMPLETED
							  ? TL_ST_COMPLETED
							  : ch->status]);
		p = TL_WK(p, "previous");
		p = tl_w_cstr(p, tl_status_tokens[before->status]);
		break;
	case TL_EV_TAGGED:
	case TL_EV_UNTAGGED:
		p = tl_w_map(p, 1);
		p = TL_WK(p, "tag");
		p = tl_w_str(p, ch->tag.p, ch->tag.len);
		break;
	case TL_EV_DELETED:
		p = tl_w_map(p, 0);
		break;
	default:
		return false;
	}
	tl_w_end(sb, p);
	return true;
}

int tl_task_ref_parse(tl_slice s, uint8_t id[16], tl_id_suffix *sx,
		      bool *is_short, tl_err *err)
{
	char q[64];
	*is_short = false;
	if (!s.p) /* as tl_check_text words it: absent or empty */
		return tl_err_set(err, TL_EINVALID, "id", "is required");
	if (!s.len)
		return tl_err_set(err, TL_EINVALID, "id", "must not be empty");
	if (tl_uuid_parse(s, id))
		return 0;
	if (tl_id_suffix_parse(s, sx)) {
		*is_short = true;
		return 0;
	}
	return tl_err_set(err, TL_EINVALID, "id",
			  "'%s' is not a UUID nor the end of one (its last "
			  "6 or more characters, with its dashes where it "
			  "has them: 8-4-4-4-12 hex digits)",
			  tl_quote(s, q, sizeof q));
}

/* The streams database's task keys ('T' + id, one per task, each with its
 * few fixed-size versions beside it), about a tenth of the bytes of the
 * tasks' documents: what a handle without the ids view reads. */
static int scan_streams(tl_db *db, MDB_txn *txn, const tl_id_suffix *sx,
			uint8_t ids[2][16], size_t *found, tl_err *err)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*found = 0;
	if ((rc = mdb_cursor_open(txn, db->streams, &cur)))
		return tl_mdb_err(err, rc, "read streams");
	k.mv_size = 1;
	k.mv_data = "T";
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     !rc && *found < 2 && k.mv_size &&
	     *(const char *)k.mv_data == 'T';
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		const uint8_t *key = k.mv_data;
		if (k.mv_size == 17 && tl_id_suffix_match(sx, key + 1))
			memcpy(ids[(*found)++], key + 1, 16);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return tl_mdb_err(err, rc, "read streams");
	return 0;
}

int tl_task_find_suffix(tl_db *db, MDB_txn *txn, bool read,
			const tl_id_suffix *sx, tl_slice text,
			const char *field, uint8_t id[16], tl_err *err)
{
	uint8_t ids[2][16];
	size_t found;
	char q[64], a[37], b[37];
	const MDB_dbi *view = NULL;
	bool stale = false;
	int rc;

	/* The ids view answers when it holds the log: in a write, always
	 * (the transaction's start brought the views up to date); in a
	 * read, unless the views are behind it or were switched by another
	 * process (tl_views_check; the next query catches up). */
	if (db->views_len && read)
		tl_views_check(db, txn, true, &stale);
	if (db->views_len && !stale)
		view = tl_view_dbis(db, tl_view_ids.name);
	rc = view ? tl_ids_find(txn, *view, sx, ids, &found, err)
		  : scan_streams(db, txn, sx, ids, &found, err);
	if (rc)
		return rc;
	tl_quote(text, q, sizeof q);
	if (!found)
		return tl_err_set(err, TL_ENOTFOUND, field,
				  "no task id is or ends in '%s'", q);
	if (found > 1) {
		tl_uuid_format(ids[0], a);
		tl_uuid_format(ids[1], b);
		return tl_err_set(err, TL_EINVALID, field,
				  "'%s' ends more than one task id (%s, %s): "
				  "give more of it",
				  q, a, b);
	}
	memcpy(id, ids[0], 16);
	return 0;
}

int tl_task_load(tl_db *db, MDB_txn *txn, const uint8_t id[16], tl_task *t,
		 msgpack_zone *zone, tl_err *err)
{
	MDB_val k = { 16, (void *)id }, v;
	int rc = mdb_get(txn, db->tasks, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MDB_NOTFOUND;
	if (rc)
		return tl_mdb_err(err, rc, "read task");
	errno = 0;
	if (tl_task_unpack(v.mv_data, v.mv_size, t, zone))
		return tl_err_undecodable(err, "corrupt task record");
	return 0;
}

int tl_task_doc(tl_db *db, MDB_txn *txn, const uint8_t id[16], MDB_val *doc)
{
	MDB_val k = { 16, (void *)id };
	return mdb_get(txn, db->tasks, &k, doc);
}

int tl_task_decode(const void *doc, size_t len, tl_task *t)
{
	msgpack_zone zone;
	errno = 0; /* ENOMEM after a failure: memory, not the document */
	if (!msgpack_zone_init(&zone, 2048)) {
		memset(t, 0, sizeof *t);
		errno = ENOMEM;
		return TL_ESTORAGE;
	}
	int rc = tl_task_unpack(doc, len, t, &zone);
	msgpack_zone_destroy(&zone);
	return rc;
}
