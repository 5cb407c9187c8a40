/*
 * fuzz_time.c - libFuzzer target: tl_time_parse.
 *
 * Input layout: bytes 0..7 are now_ms (little-endian int64, any value),
 * byte 8 picks the zone (UTC, Europe/Berlin, Pacific/Auckland, or none =
 * UTC), the rest is the text.  A parse must fail with TL_EINVALID naming
 * the field, or give a time in the documented range that tl_time_format
 * prints; tl_day_range and tl_week_range must then accept that time.
 * tl_time_format and tl_time_format_zone also get now_ms, which may be any
 * int64; the zone's form of a parsed time must parse back to it (up to the
 * wall clock's year 9999).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasklog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = {
	"UTC", "Europe/Berlin", "Pacific/Auckland", NULL
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t now = 0, out = -1, a, b;
	uint64_t u = 0;
	char buf[64];
	tl_err err;

	if (size < 9)
		return -1;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | data[i];
	memcpy(&now, &u, sizeof now);
	const char *tz = zones[data[8] % 4];
	tl_slice text = { (const char *)data + 9, size - 9 };

	tl_time_format(now, buf);
	if (strlen(buf) >= 32)
		abort();
	if (tl_time_format_zone(now, tz, buf) || strlen(buf) >= 40)
		abort();
	memset(&err, 0, sizeof err);
	int rc = tl_time_parse(text, now, tz, "due", &out, &err);
	if (rc) {
		if (rc != TL_EINVALID || rc != err.code ||
		    strcmp(err.field, "due") != 0 || !err.message[0])
			abort();
		return 0;
	}
	/* years 1970..9999 UTC */
	if (out < 0 || out > INT64_C(253402300799999))
		abort();
	tl_time_format(out, buf);
	if (strlen(buf) != 24)
		abort();
	if (tl_day_range(out, tz, &a, &b) || !(a <= out && out < b))
		abort();
	if (tl_week_range(out, tz, data[8] & 4 ? 0 : 1, &a, &b) ||
	    !(a <= out && out < b))
		abort();
	/* (but past 9999-12-31 on the wall clock, which no parse reads) */
	if (tl_time_format_zone(out, tz, buf) ||
	    (buf[4] == '-' &&
	     (tl_time_parse(tl_s(buf), now, NULL, "due", &a, &err) ||
	      a != out)))
		abort();
	return 0;
}
