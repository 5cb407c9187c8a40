/*
 * text.c - UTF-8 validation, text folded for search, and UUIDs.
 *
 * Every string the engine stores is checked to be well-formed UTF-8 first,
 * so that what comes out of the log can always be printed as JSON.
 *
 * Search compares texts folded by utf8proc (Debian's libutf8proc, the
 * Unicode tables of the Julia project): "Résumé" and "RESUME" fold alike.
 *
 * Task and event ids are UUIDv7 (RFC 9562): a 48-bit Unix time in ms,
 * then 12 bits (rand_a) used as a counter within that millisecond, then
 * 62 random bits.  Ids made by one process therefore sort in the order in
 * which they were made, which keeps LMDB inserts of new tasks at the end
 * of the tree.
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <utf8proc.h>

#include "internal.h"

bool tl_utf8_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	if (!p)
		return len == 0;
	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf; /* range of 2nd byte */
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		/*
		 * The lead byte gives the length; the bounds of the second
		 * byte are what exclude overlong forms (C0, C1, E0 80-9F,
		 * F0 80-8F), the surrogates (ED A0-BF) and code points past
		 * U+10FFFF (F4 90-BF, F5-FF).
		 */
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

/* The last id made by this process: its time and counter. */
pthread_mutex_t tl_uuid_mu = PTHREAD_MUTEX_INITIALIZER; /* proc.c */

/* Random bytes are drawn 4 KiB at a time: one getrandom call per 512
 * ids instead of one per id (it was a tenth of an append's time). */
static uint8_t rand_pool[4096];
static size_t rand_left;

/* A forked child must not reuse its parent's pool. */
void tl_uuid_forked(void)
{
	rand_left = 0;
}

/* Copy n random bytes to out; call with tl_uuid_mu held. */
static void rand_take(void *out, size_t n)
{
	if (rand_left < n) {
		randombytes_buf(rand_pool, sizeof rand_pool);
		rand_left = sizeof rand_pool;
	}
	memcpy(out, rand_pool + sizeof rand_pool - rand_left, n);
	rand_left -= n;
}
static int64_t uuid_last_ms = -1;
static unsigned uuid_counter;

#define UUID_MS_MAX ((INT64_C(1) << 48) - 1)
#define UUID_COUNTER_MAX 0xfffu

/*
 * A fresh counter for a new millisecond starts at a random value below the
 * middle, as RFC 9562 suggests: ids are less guessable, and at least 2048
 * ids fit in the millisecond before the counter runs out.
 */
static unsigned uuid_counter_seed(void)
{
	uint16_t r;

	rand_take(&r, sizeof(r));
	return r & 0x7ffu;
}

void tl_uuid_v7(int64_t now_ms, uint8_t out[16])
{
	int64_t ms;
	unsigned ctr;
	int i;

	if (now_ms <= 0)
		now_ms = tl_time_now();
	if (now_ms > UUID_MS_MAX)
		now_ms = UUID_MS_MAX;

	/* On failure randombytes still works, set up lazily. */
	tl_proc_init();
	pthread_mutex_lock(&tl_uuid_mu);
	/*
	 * Ids must sort in the order they were made even when the clock
	 * steps back or a caller passes an older now_ms: then, as when many
	 * ids are made within one ms, stay on the last ms and count.  When the
	 * counter is used up, borrow the next millisecond.
	 */
	if (now_ms > uuid_last_ms) {
		uuid_last_ms = now_ms;
		uuid_counter = uuid_counter_seed();
	} else if (uuid_counter < UUID_COUNTER_MAX) {
		uuid_counter++;
	} else if (uuid_last_ms < UUID_MS_MAX) {
		uuid_last_ms++;
		uuid_counter = uuid_counter_seed();
	} else {
		/* year 10889: nothing left to order by but chance */
		uuid_counter = uuid_counter_seed();
	}
	ms = uuid_last_ms;
	ctr = uuid_counter;
	rand_take(out + 8, 8);
	pthread_mutex_unlock(&tl_uuid_mu);

	for (i = 0; i < 6; i++)
		out[i] = (uint8_t)(ms >> (40 - 8 * i));
	out[6] = (uint8_t)(0x70 | (ctr >> 8)); /* version 7 */
	out[7] = (uint8_t)ctr;
	out[8] = (uint8_t)(0x80 | (out[8] & 0x3f)); /* variant 10 */
}

/* The value of each hex digit, 16 for every other byte. */
static const uint8_t nibble[256] = {
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 16, 16, 16, 16, 16, 16,
	16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

/* Where the two digits of each byte are in the 8-4-4-4-12 form. */
static const uint8_t uuid_at[16] = { 0, 2, 4, 6, 9, 11, 14, 16,
				     19, 21, 24, 26, 28, 30, 32, 34 };

bool tl_id_suffix_parse(tl_slice text, tl_id_suffix *out)
{
	const unsigned char *p = (const unsigned char *)text.p;
	tl_id_suffix sx = { .len = 0 };

	/* The last text.len characters of the 8-4-4-4-12 form: dashes
	 * exactly where that form has them. */
	if (!p || !text.len || text.len >= 36 || p[0] == '-')
		return false; /* a leading dash: an option to a command line */
	for (size_t i = 0, j = 36 - text.len; i < text.len; i++, j++) {
		bool dash = j == 8 || j == 13 || j == 18 || j == 23;
		if (dash ? p[i] != '-' : nibble[p[i]] & 16)
			return false;
		if (!dash)
			sx.nib[sx.len++] = nibble[p[i]];
	}
	if (sx.len < TL_ID_SUFFIX_MIN)
		return false;
	*out = sx;
	return true;
}

bool tl_id_suffix_match(const tl_id_suffix *sx, const uint8_t id[16])
{
	for (size_t i = 0; i < sx->len; i++) {
		size_t at = 31 - i; /* nibbles from the last */
		uint8_t b = id[at / 2];
		uint8_t n = at % 2 ? b & 15 : b >> 4;
		if (n != sx->nib[sx->len - 1 - i])
			return false;
	}
	return true;
}

bool tl_uuid_parse(tl_slice text, uint8_t out[16])
{
	const unsigned char *p = (const unsigned char *)text.p;
	uint8_t id[16];
	unsigned bad = 0;

	if (!p || text.len != 36 || p[8] != '-' || p[13] != '-' ||
	    p[18] != '-' || p[23] != '-')
		return false;
	for (int i = 0; i < 16; i++) {
		unsigned hi = nibble[p[uuid_at[i]]], lo = nibble[p[uuid_at[i] + 1]];
		bad |= hi | lo;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	if (bad & 16)
		return false;
	/* out is written only for a valid id */
	memcpy(out, id, sizeof(id));
	return true;
}

/* The two hex digits of each byte value. */
static const char hex_pairs[] =
	"000102030405060708090a0b0c0d0e0f"
	"101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f"
	"303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f"
	"505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f"
	"707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f"
	"909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
	"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	"d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void tl_uuid_format(const uint8_t id[16], char out[37])
{
	for (int i = 0; i < 16; i++)
		memcpy(out + uuid_at[i], hex_pairs + 2 * id[i], 2);
	out[8] = out[13] = out[18] = out[23] = '-';
	out[36] = '\0';
}

/* The marks a search looks past: accents, and the vowel points and
 * other optional marks of Hebrew, Arabic, Syriac and the like, which
 * most people leave out when they type.  That is the blocks of combining
 * diacritical marks, and any other non-spacing mark of a combining class
 * of 10 or more, but for the scripts where such marks are vowels spelled
 * as a letter is (Telugu, Thai, Lao, Tibetan).  Kept too: the classes
 * below 10, the Japanese voicing marks (パ is not ハ), nukta and virama,
 * and the spacing vowel signs of Indic scripts (class 0), which make
 * another letter, not an accented one. */
static bool is_accent(int32_t cp)
{
	if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	    (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	    (cp >= 0xfe20 && cp <= 0xfe2f))
		return true;
	if ((cp >= 0x0c00 && cp <= 0x0c7f) || (cp >= 0x0e00 && cp <= 0x0fff))
		return false;
	return utf8proc_category(cp) == UTF8PROC_CATEGORY_MN &&
	       utf8proc_get_property(cp)->combining_class >= 10;
}

/* Folding: compatibility decomposition (so the ligature "ﬁ" is "fi" and a
 * full-width "Ａ" an "a"), case folding, accents dropped (those of a
 * decomposed "é"), default-ignorable characters (soft hyphen, zero-width
 * space) dropped, and look-alikes lumped: every space to U+0020, dashes
 * to '-', typographic apostrophes to '.  Then what is left recomposes
 * (NFC): a kana with its dakuten, a Hangul syllable from its letters, are
 * one code point again, which no other letter matches inside.  utf8proc
 * works in the caller's buffer, so nothing is allocated. */
ptrdiff_t tl_text_fold(tl_slice s, int32_t *out, size_t cap)
{
	if (s.len > (size_t)PTRDIFF_MAX / 4 || cap > (size_t)PTRDIFF_MAX / 4)
		return -1;
	/* Text in ASCII alone, most titles and notes: utf8proc maps each
	 * of its characters to itself but a capital to its small letter,
	 * and nothing in it composes (unit_text.c checks every one of the
	 * 128 against the whole path), so the fold is that map, without
	 * the library's calls (a third of a search's time at 600,000
	 * tasks). */
	size_t a = 0;
	while (a < s.len && !((unsigned char)s.p[a] & 0x80))
		a++;
	if (a == s.len) {
		if (s.len > cap)
			return (ptrdiff_t)s.len;
		for (size_t i = 0; i < s.len; i++) {
			unsigned char c = (unsigned char)s.p[i];
			out[i] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
		}
		return (ptrdiff_t)s.len;
	}
	utf8proc_ssize_t n = utf8proc_decompose(
		(const utf8proc_uint8_t *)(s.len ? s.p : ""),
		(utf8proc_ssize_t)s.len, out, (utf8proc_ssize_t)cap,
		UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
			UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_LUMP);
	if (n < 0)
		return -1;
	if ((size_t)n > cap)
		return (ptrdiff_t)n; /* the room it needs, accents and all */
	size_t k = 0;
	for (size_t i = 0; i < (size_t)n; i++)
		if (!is_accent(out[i]))
			out[k++] = out[i];
	utf8proc_ssize_t m = utf8proc_normalize_utf32(
		out, (utf8proc_ssize_t)k, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	return m < 0 ? -1 : (ptrdiff_t)m;
}

static bool is_mark(int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC ||
	       c == UTF8PROC_CATEGORY_ME;
}

/* A word is found where the text goes on with another character, not
 * with a mark of the word's last letter: "क" is not in "कि" (ki). */
bool tl_text_holds(const int32_t *text, size_t n, const int32_t *word,
		   size_t wn)
{
	if (!wn)
		return true;
	for (size_t i = 0; wn <= n && i <= n - wn; i++)
		if (text[i] == word[0] &&
		    !memcmp(text + i, word, wn * sizeof *word) &&
		    !(i + wn < n && is_mark(text[i + wn])))
			return true;
	return false;
}
