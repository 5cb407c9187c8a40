/*
 * fuzz_text.c - libFuzzer target: text validation and UUIDs.
 *
 * tl_utf8_valid is checked against a plain reference decoder (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF); tl_check_text
 * must agree with it and name the field when it refuses; tl_uuid_parse
 * must accept exactly the canonical 8-4-4-4-12 hex form, and what it
 * parses must format back to the same text up to case.  tl_text_fold
 * must fold exactly the valid texts, and say the room it needs: folding
 * again with that room fits (composition may make it fewer).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h" /* tl_check_text, tl_quote */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ref_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t c = s[i], cp;
		size_t n;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static bool ref_uuid(const uint8_t *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
		if (hyphen ? s[i] != '-' : !isxdigit(s[i]))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tl_slice s = { (const char *)data, size };
	uint8_t id[16];
	char text[37], q[64];
	tl_err err;

	bool valid = tl_utf8_valid(s.p, s.len);
	if (valid != ref_utf8(data, size))
		abort();

	/* The first byte picks the limits, as the callers use them. */
	size_t min = size ? data[0] % 3 : 0;
	size_t max = size ? (size_t)(data[0] >> 2) * 8 : 500;
	bool newlines = size && (data[0] & 2);
	memset(&err, 0, sizeof err);
	int rc = tl_check_text(s, "title", min, max, newlines, &err);
	if (rc) {
		if (rc != TL_EINVALID || err.code != rc ||
		    strcmp(err.field, "title") || !err.message[0] ||
		    !tl_utf8_valid(err.message, strlen(err.message)))
			abort();
	} else if (!valid || size < min || size > max) {
		abort();
	}

	int32_t small[8];
	ptrdiff_t n = tl_text_fold(s, small, 8);
	if ((n < 0) != !valid)
		abort();
	if (n > 8) {
		int32_t *big = malloc((size_t)n * sizeof *big);
		ptrdiff_t m = big ? tl_text_fold(s, big, (size_t)n) : 0;
		if (m < 0 || m > n)
			abort();
		free(big);
	}

	tl_quote(s, q, sizeof q);
	if (strlen(q) >= sizeof q)
		abort();
	/* tl_quote_max at caps of every size, in buffers of exactly that
	 * size (ASan finds a write past one): NUL-terminated, valid UTF-8,
	 * no control character (since 0.3.51) */
	for (size_t cap = 4; cap < 120; cap += 5) {
		char *b = malloc(cap);
		if (!b)
			return 0;
		tl_quote_max(s, cap / 2, b, cap);
		size_t bl = strlen(b);
		if (bl >= cap || !tl_utf8_valid(b, bl))
			abort();
		for (size_t k = 0; k < bl; k++)
			if ((unsigned char)b[k] < 0x20 || b[k] == 0x7f)
				abort();
		free(b);
	}

	bool ok = tl_uuid_parse(s, id);
	if (ok != ref_uuid(data, size))
		abort();
	if (ok) {
		tl_uuid_format(id, text);
		if (strncasecmp(text, s.p, 36) != 0)
			abort();
	}
	return 0;
}
