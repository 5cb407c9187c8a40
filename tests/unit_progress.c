/*
 * unit_progress.c - the progress bars on stderr (tools/progress.c),
 * character by character: stderr is sent to a temporary file around each
 * call and what was written is compared whole.  Time is set, not waited
 * for: a bar's start is put in the past, and where a printed time cannot
 * help moving, its number is read back and bounded.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../tools/progress.h"

/* What the calls between capture() and captured() wrote on stderr. */
static FILE *cap_file;
static int cap_saved = -1;
static char cap_text[4096];

static void capture(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	cr_assert(cap_file, "tmpfile");
	cap_saved = dup(STDERR_FILENO);
	cr_assert(cap_saved >= 0, "dup");
	cr_assert(dup2(fileno(cap_file), STDERR_FILENO) >= 0, "dup2");
}

static const char *captured(void)
{
	fflush(stderr);
	cr_assert(dup2(cap_saved, STDERR_FILENO) >= 0, "dup2 back");
	close(cap_saved);
	cap_saved = -1;
	rewind(cap_file);
	size_t n = fread(cap_text, 1, sizeof cap_text - 1, cap_file);
	cap_text[n] = 0;
	fclose(cap_file);
	return cap_text;
}

/* t, set to secs seconds before now on the monotonic clock. */
static void set_ago(struct timespec *t, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	long long ns = (long long)t->tv_sec * 1000000000LL + t->tv_nsec -
		       (long long)(secs * 1e9);
	t->tv_sec = (time_t)(ns / 1000000000LL);
	t->tv_nsec = (long)(ns % 1000000000LL);
	if (t->tv_nsec < 0) {
		t->tv_nsec += 1000000000L;
		t->tv_sec--;
	}
}

/* A rebuild's bar, started now, never drawn. */
static struct progress fresh(void)
{
	struct progress p = { .unit = "events", .rate = "ev/s" };
	set_ago(&p.start, 0);
	return p;
}

/* A rebuild's bar whose rate is counted from secs ago, from 0 done:
 * done / secs, moved by a delay of d seconds by a factor 1 + d / secs. */
static struct progress bar_since(double secs)
{
	struct progress p = fresh();
	set_ago(&p.start, secs);
	p.based = true;
	return p;
}

#define EXPECT_SHOWN(p, done, total, want)                                 \
	do {                                                               \
		capture();                                                 \
		show_progress((p), (done), (total));                       \
		cr_expect_str_eq(captured(), (want));                      \
	} while (0)

/* A rate near 0 leaves more minutes than an int holds: said as INT_MAX
 * minutes, where the conversion of the double overflowed (undefined
 * behaviour; "ETA -2147483648m-8s" on x86-64). */
Test(progress, eta_past_int_max_minutes_is_capped)
{
	struct progress p = bar_since(1000);
	EXPECT_SHOWN(&p, 1, UINT64_MAX,
		     "\r[..........] 0% 1/18446744073709551615 events 0 ev/s"
		     " ETA 2147483647m00s\033[K");
	/* past INT_MAX seconds but not minutes: 10^10 s at 1 ev/s, the
	 * minutes moving by 166,667 a second of this test's delay */
	p = bar_since(1000);
	capture();
	show_progress(&p, 1000, 10000001000ULL);
	const char *out = captured();
	const char *want = "\r[..........] 0% 1000/10000001000 events 1 ev/s"
			   " ETA ";
	cr_assert(!strncmp(out, want, strlen(want)), "%s", out);
	int m = 0, s = -1;
	char tail[8] = "";
	cr_assert_eq(sscanf(out + strlen(want), "%dm%2ds%7s", &m, &s, tail), 3,
		     "%s", out);
	cr_expect(m >= 166666666 && m <= 170000000, "%s", out);
	cr_expect(s >= 0 && s <= 59, "%s", out);
	cr_expect_str_eq(strchr(out, 'm') + 3, "s\033[K", "%s", out);
}
