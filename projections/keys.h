/*
 * keys.h - key building blocks shared by the views (private to
 * projections/): fixed-size binary fields that sort as their values do,
 * short hashes of variable-length values, and the opaque page cursors.
 */
#ifndef TL_KEYS_H
#define TL_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasklog_view.h"

/* 8-byte SipHash-2-4 (libsodium crypto_shorthash, fixed key) of a value:
 * used where a key must hold a variable-length value (member id, record).
 * Equal values give equal hashes; queries re-check the value itself. */
void tl_key_hash(tl_slice s, uint8_t out[8]);

/* Big-endian stores that sort as unsigned numbers do: the engine's
 * (tasklog_view.h), under the names the views use. */
static inline void tl_key_u64(uint8_t *p, uint64_t v)
{
	tl_put_be64(p, v);
}
static inline uint64_t tl_key_get_u64(const uint8_t *p)
{
	return tl_get_be64(p);
}

/* A time in ms as a u64 that sorts like the signed time. */
static inline uint64_t tl_key_time(int64_t ms)
{
	return (uint64_t)ms ^ 0x8000000000000000ull;
}
static inline int64_t tl_key_untime(uint64_t k)
{
	return (int64_t)(k ^ 0x8000000000000000ull);
}

/* Opaque cursors: a one-letter kind plus bytes, as lowercase hex text.
 * Decode checks the kind and the length; returns false if malformed. */
void tl_cursor_encode(char kind, const uint8_t *p, size_t n, char *out,
		      size_t cap);
bool tl_cursor_decode(tl_slice text, char kind, uint8_t *p, size_t n);

#endif
