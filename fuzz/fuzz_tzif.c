/*
 * fuzz_tzif.c - libFuzzer target: the TZif reader of engine/time.c.
 *
 * Input layout: bytes 0..7 are an instant in seconds (little-endian
 * int64, kept within years 1..9999), the rest is a zone file.  Reading
 * must fail cleanly or give an offset within a day of UTC's; nothing may
 * read out of bounds (ASan) or overflow (UBSan).  Seeds: the files of
 * /usr/share/zoneinfo (make fuzz copies a few).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t u = 0;
	int64_t t, off;

	if (size < 8)
		return -1;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | data[i];
	/* years 1..9999: what the engine asks for */
	t = (int64_t)(u % UINT64_C(315537897600)) - INT64_C(62135596800);
	if (tl_zone_parse(data + 8, size - 8, t, &off) == 0 &&
	    (off < -(int64_t)26 * 3600 || off > (int64_t)26 * 3600))
		abort();
	return 0;
}
