/*
 * keys.c - shared key building blocks of the views; see keys.h.
 */
#include <string.h>

#include <sodium.h>

#include "keys.h"

void tl_key_hash(tl_slice s, uint8_t out[8])
{
	/* A fixed key: the hash only spreads values, it guards nothing. */
	static const uint8_t key[crypto_shorthash_KEYBYTES] = "tasklog-keys-v1";
	crypto_shorthash(out, (const uint8_t *)(s.p ? s.p : ""), s.len, key);
}


void tl_cursor_encode(char kind, const uint8_t *p, size_t n, char *out,
		      size_t cap)
{
	static const char hx[] = "0123456789abcdef";
	if (cap < 2 * n + 2) {
		if (cap)
			out[0] = 0;
		return;
	}
	out[0] = kind;
	for (size_t i = 0; i < n; i++) {
		out[1 + 2 * i] = hx[p[i] >> 4];
		out[2 + 2 * i] = hx[p[i] & 15];
	}
	out[1 + 2 * n] = 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool tl_cursor_decode(tl_slice text, char kind, uint8_t *p, size_t n)
{
	if (!text.p || text.len != 1 + 2 * n || text.p[0] != kind)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(text.p[1 + 2 * i]), lo = nibble(text.p[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
