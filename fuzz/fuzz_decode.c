/*
 * fuzz_decode.c - libFuzzer target: decoding stored event records.
 *
 * The input is taken as one stored record.  tl_event_decode (with its
 * upcasting of old schemas) must accept or refuse it without crashing;
 * a record that decodes is folded into a zeroed task (tl_task_fold), and a
 * member event's data into a zeroed member (tl_member_fold).  A task that
 * folds is packed as the document the engine would store (tl_task_pack),
 * and a document that tl_task_unpack reads back must pack to the same
 * bytes.  (tl_task_unpack is not given raw input: task documents are
 * written by the engine only, never taken from outside.)  Everything
 * allocated is released, so LeakSanitizer sees every leak.
 *
 *   make fuzz            builds build-fuzz/fuzz_decode and runs it
 *   build-fuzz/fuzz_decode CRASH-FILE     reproduces one input
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pack t, unpack the document, pack again: the same bytes. */
static void round_trip(const tl_task *t, msgpack_zone *zone)
{
	msgpack_sbuffer a, b;
	tl_task u;

	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	if (!tl_task_pack(&a, t))
		abort();
	if (tl_task_unpack((const uint8_t *)a.data, a.size, &u, zone) == 0) {
		if (!tl_task_pack(&b, &u))
			abort();
		if (a.size != b.size || memcmp(a.data, b.data, a.size))
			abort();
		tl_task_release(&u);
	}
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_zone zone;
	msgpack_sbuffer scratch;
	tl_event ev;
	tl_task task;

	msgpack_zone_init(&zone, 2048);
	msgpack_sbuffer_init(&scratch);
	if (tl_event_decode(data, size, &ev, &zone, &scratch) == 0) {
		/* The slices must lie inside the record or the scratch. */
		if (ev.raw != data || ev.raw_len != size)
			abort();
		memset(&task, 0, sizeof task);
		if (tl_task_fold(&task, &ev, &zone) == 0)
			round_trip(&task, &zone);
		tl_task_release(&task);

		if (ev.type.len > 7 && !memcmp(ev.type.p, "member.", 7)) {
			msgpack_object d;
			size_t off = 0;
			tl_member m;
			memset(&m, 0, sizeof m);
			if (msgpack_unpack((const char *)ev.data, ev.data_len,
					   &off, &zone, &d) ==
			    MSGPACK_UNPACK_SUCCESS)
				tl_member_fold(&m, &d,
					       tl_slice_eq(ev.type,
							   "member.added"));
		}
	}
	msgpack_sbuffer_destroy(&scratch);
	msgpack_zone_destroy(&zone);
	return 0;
}
