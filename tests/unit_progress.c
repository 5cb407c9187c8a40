/*
 * unit_progress.c - the progress bars on stderr (tools/progress.c),
 * character by character: stderr is sent to a temporary file around each
 * call and what was written is compared whole.  Time is set, not waited
 * for: the bars' clock is stopped for every test (progress_frozen), and a
 * bar's start is put in the past.  Before 0.3.53 the clock ran, and a
 * test's own delay moved what was printed: the tests put starts 10^6 s
 * back so that it moved no digit, and read back and bounded a printed
 * time, but a rate over 1 s still read 1195 MiB/s on a loaded machine.
 * Those margins are kept; the times are now exact.
 */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

/* The bars' clock, stopped for every test of the suite: what a test
 * sets is what they read, however long the test takes. */
static struct timespec frozen_at;

static void freeze(void)
{
	clock_gettime(CLOCK_MONOTONIC, &frozen_at);
	progress_frozen = &frozen_at;
}

/* t, set to secs seconds before now on the bars' clock. */
static void set_ago(struct timespec *t, double secs)
{
	progress_clock(t);
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

/* out is want_head, a time "%.1f", then want_tail: the time. */
static double time_in(const char *out, const char *want_head,
		      const char *want_tail)
{
	size_t h = strlen(want_head), t = strlen(want_tail), n = strlen(out);
	cr_assert(n > h + t, "%s", out);
	cr_assert(!strncmp(out, want_head, h), "%s", out);
	cr_assert_str_eq(out + n - t, want_tail);
	char num[32] = "";
	cr_assert(n - h - t < sizeof num, "%s", out);
	memcpy(num, out + h, n - h - t);
	char *end;
	double v = strtod(num, &end);
	cr_assert(*end == 0 && strchr(num, '.') &&
			  strlen(strchr(num, '.')) == 2,
		  "%s", out);
	return v;
}

#define EXPECT_SHOWN(p, done, total, want)                                 \
	do {                                                               \
		capture();                                                 \
		show_progress((p), (done), (total));                       \
		cr_expect_str_eq(captured(), (want));                      \
	} while (0)

#define EXPECT_FRESH(done, total, want)                                    \
	do {                                                               \
		struct progress p_ = fresh();                              \
		EXPECT_SHOWN(&p_, (done), (total), (want));                \
	} while (0)

/* Bars as wide as they are: a terminal of 200 columns (stderr is a file
 * here, so $COLUMNS says; fits_the_terminals_width tests narrower); the
 * clock stopped. */
static void wide(void)
{
	setenv("COLUMNS", "200", 1);
	freeze();
}

TestSuite(progress, .init = wide);

/* 79 characters or fewer between \r and \033[K. */
static size_t drawn_chars(const char *out)
{
	size_t chars = 0;
	for (const char *c = out + 1; *c && *c != '\033'; c++)
		chars += ((unsigned char)*c & 0xc0) != 0x80;
	return chars;
}

/* A bar fits the terminal's width less one: a line that wraps leaves its
 * first row behind at each redraw (before 0.3.51, verify's bar of 81 to
 * 121 columns left a trail of them in 80).  Too wide, it drops its
 * counts and rate; still too wide, its end is cut with an ellipsis. */
Test(progress, fits_the_terminals_width)
{
	struct progress p = { .unit = "events", .rate = "ev/s",
			      .label = " (verify 5/7: rebuilding the views: "
				       "reading the log)" };
	set_ago(&p.start, 1);
	setenv("COLUMNS", "80", 1);
	capture();
	show_progress(&p, 40, 100);
	const char *out = captured();
	cr_assert_str_eq(out, "\r[####......] 40% (verify 5/7: rebuilding"
			      " the views: reading the log)\033[K");
	/* a label too long for that too: cut, to 79 characters */
	struct progress q = p;
	q.label = " (a label of a step that says far more than eighty "
		  "columns hold, in so many words)";
	q.most = 0;
	q.shown = false;
	capture();
	show_progress(&q, 40, 100);
	out = captured();
	cr_assert_eq(drawn_chars(out), 79, "%s", out);
	cr_assert(strstr(out, "\u2026\033[K"), "%s", out);
	/* a line that fits is left whole */
	struct progress w = { .unit = "events", .rate = "ev/s" };
	set_ago(&w.start, 1);
	capture();
	show_progress(&w, 40, 100);
	cr_assert_str_eq(captured(),
			 "\r[####......] 40% 40/100 events 0 ev/s\033[K");
	/* and at 200 columns the first one too */
	setenv("COLUMNS", "200", 1);
	struct progress v = { .unit = "events", .rate = "ev/s",
			      .label = p.label };
	set_ago(&v.start, 1);
	capture();
	show_progress(&v, 40, 100);
	cr_assert_str_eq(captured(),
			 "\r[####......] 40% 40/100 events 0 ev/s (verify 5/7:"
			 " rebuilding the views: reading the log)\033[K");
}

Test(progress, seconds_since_counts_seconds_and_nanoseconds)
{
	static const double ago[] = { 0.25, 0.75, 2.5, 1000.5 };
	for (size_t i = 0; i < sizeof ago / sizeof ago[0]; i++) {
		struct timespec t;
		set_ago(&t, ago[i]);
		double s = seconds_since(&t);
		cr_expect(s >= ago[i] && s < ago[i] + 0.5, "%g ago: %g", ago[i],
			  s);
	}
}

/* A first call has no rate yet: 0, and no ETA. */
Test(progress, bar_tenths_are_whole_percent_over_ten)
{
	EXPECT_FRESH(0, 100, "\r[..........] 0% 0/100 events 0 ev/s\033[K");
	EXPECT_FRESH(9, 100, "\r[..........] 9% 9/100 events 0 ev/s\033[K");
	EXPECT_FRESH(10, 100, "\r[#.........] 10% 10/100 events 0 ev/s\033[K");
	EXPECT_FRESH(45, 100, "\r[####......] 45% 45/100 events 0 ev/s\033[K");
	EXPECT_FRESH(999, 1000,
		     "\r[#########.] 99% 999/1000 events 0 ev/s\033[K");
	EXPECT_FRESH(100, 100,
		     "\r[##########] 100% 100/100 events 0 ev/s\033[K");
	EXPECT_FRESH(1, UINT64_MAX,
		     "\r[..........] 0% 1/18446744073709551615 events 0 ev/s"
		     "\033[K");
}

/* A done past 1.8e17 below its total: its percentage, where done * 100
 * would wrap, and 99% one short of it, not 100%. */
Test(progress, a_huge_done_below_its_total_is_its_percentage)
{
	EXPECT_FRESH(8100000000000000000ULL, 18000000000000000000ULL,
		     "\r[####......] 45% 8100000000000000000/"
		     "18000000000000000000 events 0 ev/s\033[K");
	EXPECT_FRESH(18446744073709551614ULL, 18446744073709551615ULL,
		     "\r[#########.] 99% 18446744073709551614/"
		     "18446744073709551615 events 0 ev/s\033[K");
}

Test(progress, nothing_to_do_is_done)
{
	EXPECT_FRESH(0, 0, "\r[##########] 100% 0/0 events 0 ev/s\033[K");
	EXPECT_FRESH(7, 0, "\r[##########] 100% 7/0 events 0 ev/s\033[K");
}

/* More done than the total (an import whose input grew): 100%, however
 * large, where done * 100 would wrap. */
Test(progress, done_past_total_is_100_percent)
{
	EXPECT_FRESH(150, 100,
		     "\r[##########] 100% 150/100 events 0 ev/s\033[K");
	EXPECT_FRESH(UINT64_MAX, 1000000000000000000ULL,
		     "\r[##########] 100% 18446744073709551615/"
		     "1000000000000000000 events 0 ev/s\033[K");
	EXPECT_FRESH(1000000000000000000ULL, 1000000000000000000ULL,
		     "\r[##########] 100% 1000000000000000000/"
		     "1000000000000000000 events 0 ev/s\033[K");
}

/* Millions with a tenth, thousands and units whole; all done, no ETA. */
Test(progress, rate_in_millions_thousands_and_units)
{
	/* done over 10^6 s, all done: the rate alone varies */
	static const struct {
		uint64_t done;
		const char *speed;
	} c[] = {
		{ 3000000000000ULL, "3.0M" }, { 1240000000000ULL, "1.2M" },
		{ 950000000000ULL, "950k" },  { 1200000000ULL, "1k" },
		{ 900000000ULL, "900" },
		/* what would round to "1000k" or "1000" is said in the
		 * next unit */
		{ 999700000000ULL, "1.0M" },  { 999400000000ULL, "999k" },
		{ 999700000ULL, "1k" },	      { 999400000ULL, "999" },
		{ 400000, "0" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char want[128];
		snprintf(want, sizeof want,
			 "\r[##########] 100%% %" PRIu64 "/%" PRIu64
			 " events %s ev/s\033[K",
			 c[i].done, c[i].done, c[i].speed);
		struct progress p = bar_since(1e6);
		EXPECT_SHOWN(&p, c[i].done, c[i].done, want);
	}
}

/* 500 ev/s: what is left over the rate, rounded to a second once, in
 * seconds under a minute and in minutes and two-digit seconds from one
 * (59.7 s is a minute, not "60s"). */
Test(progress, eta_in_seconds_then_minutes)
{
	static const struct {
		uint64_t left;
		const char *want;
	} c[] = {
		{ 15000, "\r[#########.] 99% 500000000/500015000 events 500 ev/s"
			 " ETA 30s\033[K" },
		{ 29700, "\r[#########.] 99% 500000000/500029700 events 500 ev/s"
			 " ETA 59s\033[K" }, /* 59.4 s */
		{ 29850, "\r[#########.] 99% 500000000/500029850 events 500 ev/s"
			 " ETA 1m00s\033[K" }, /* 59.7 s */
		{ 30250, "\r[#########.] 99% 500000000/500030250 events 500 ev/s"
			 " ETA 1m01s\033[K" }, /* 60.5 s */
		{ 59950, "\r[#########.] 99% 500000000/500059950 events 500 ev/s"
			 " ETA 2m00s\033[K" }, /* 119.9 s */
		{ 62750, "\r[#########.] 99% 500000000/500062750 events 500 ev/s"
			 " ETA 2m06s\033[K" }, /* 125.5 s */
		{ 1862600, "\r[#########.] 99% 500000000/501862600 events 500"
			   " ev/s ETA 62m05s\033[K" }, /* 3725.2 s */
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct progress p = bar_since(1e6);
		EXPECT_SHOWN(&p, 500000000, 500000000 + c[i].left, c[i].want);
	}
}

/* No ETA without a rate: a first call, or none done since it. */
Test(progress, no_eta_without_a_rate)
{
	EXPECT_FRESH(45, 100, "\r[####......] 45% 45/100 events 0 ev/s\033[K");
	struct progress p = bar_since(1e6);
	p.base_done = 45;
	EXPECT_SHOWN(&p, 45, 100,
		     "\r[####......] 45% 45/100 events 0 ev/s\033[K");
}

Test(progress, no_eta_once_all_are_done)
{
	struct progress p = bar_since(1e6);
	EXPECT_SHOWN(&p, 500000000, 500000000,
		     "\r[##########] 100% 500000000/500000000 events 500 ev/s"
		     "\033[K");
	p = bar_since(1e6);
	EXPECT_SHOWN(&p, 500000000, 400000000,
		     "\r[##########] 100% 500000000/400000000 events 500 ev/s"
		     "\033[K");
}

/* The rate is counted from the first call: what came before it is not
 * the rate's.  1e12 done 1e6 s in, 3e12 1e6 s later: 2.0M ev/s, not
 * 1.5M (from the start) nor 3.0M (from 0 done). */
Test(progress, rate_is_counted_from_the_first_call)
{
	struct progress p = fresh();
	set_ago(&p.start, 1e6);
	EXPECT_SHOWN(&p, 1000000000000ULL, 3001000500000ULL,
		     "\r[###.......] 33% 1000000000000/3001000500000 events"
		     " 0 ev/s\033[K");
	set_ago(&p.start, 2e6);
	/* 500.25 s: off the half second, where the nanoseconds between
	 * the calls made it 8m20s or 8m21s (a CI run) */
	EXPECT_SHOWN(&p, 3000000000000ULL, 3001000500000ULL,
		     "\r[#########.] 99% 3000000000000/3001000500000 events"
		     " 2.0M ev/s ETA 8m20s\033[K");
}

/* Over 10 s (2e7 done in them: 2.0M ev/s, 1.8M were a second more
 * counted), a delay of up to 0.24 s moving no digit. */
Test(progress, rate_over_seconds_is_exact)
{
	struct progress p = fresh();
	set_ago(&p.start, 1e6);
	EXPECT_SHOWN(&p, 1000000000000ULL, 1000020000000ULL,
		     "\r[#########.] 99% 1000000000000/1000020000000 events"
		     " 0 ev/s\033[K");
	set_ago(&p.start, 1e6 + 10);
	EXPECT_SHOWN(&p, 1000020000000ULL, 1000020000000ULL,
		     "\r[##########] 100% 1000020000000/1000020000000 events"
		     " 2.0M ev/s\033[K");
}

/* At most ten times a second: a call within 0.1 s of the last drawing
 * (here drawn 40 ms before it, or just before it) says nothing, unless
 * all are done; one 0.15 s after it is drawn. */
Test(progress, redrawn_at_most_ten_times_a_second)
{
	struct progress p = bar_since(1e6);
	EXPECT_SHOWN(&p, 500000000, 500015000,
		     "\r[#########.] 99% 500000000/500015000 events 500 ev/s"
		     " ETA 30s\033[K");
	EXPECT_SHOWN(&p, 500001000, 500015000, "");
	p.drawn = seconds_since(&p.start) - 0.04;
	EXPECT_SHOWN(&p, 500002000, 500015000, "");
	p.drawn = seconds_since(&p.start) - 0.15;
	EXPECT_SHOWN(&p, 500003000, 500015000,
		     "\r[#########.] 99% 500003000/500015000 events 500 ev/s"
		     " ETA 24s\033[K");
	p.drawn = seconds_since(&p.start);
	EXPECT_SHOWN(&p, 500015000, 500015000,
		     "\r[##########] 100% 500015000/500015000 events 500 ev/s"
		     "\033[K");
	/* past the total too */
	p.drawn = seconds_since(&p.start);
	EXPECT_SHOWN(&p, 500016000, 500015000,
		     "\r[##########] 100% 500016000/500015000 events 500 ev/s"
		     "\033[K");
}

/* An import that runs a batch again (its map grown) goes back: the bar
 * does not, even at the total, until it is passed again. */
Test(progress, done_below_the_most_says_nothing)
{
	struct progress p = fresh();
	EXPECT_SHOWN(&p, 50, 100,
		     "\r[#####.....] 50% 50/100 events 0 ev/s\033[K");
	p.drawn = -1000;
	EXPECT_SHOWN(&p, 49, 100, "");
	EXPECT_SHOWN(&p, 40, 40, "");
	EXPECT_SHOWN(&p, 50, 100,
		     "\r[#####.....] 50% 50/100 events 0 ev/s\033[K");
}

/* after once all are read, the label always, last. */
Test(progress, after_when_all_are_read_and_label_last)
{
	struct progress p = fresh();
	p.after = ", writing the views";
	EXPECT_SHOWN(&p, 45, 100,
		     "\r[####......] 45% 45/100 events 0 ev/s\033[K");
	p = fresh();
	p.after = ", writing the views";
	EXPECT_SHOWN(&p, 100, 100,
		     "\r[##########] 100% 100/100 events 0 ev/s, writing the"
		     " views\033[K");
	p = fresh();
	p.after = ", writing the views";
	EXPECT_SHOWN(&p, 101, 100,
		     "\r[##########] 100% 101/100 events 0 ev/s, writing the"
		     " views\033[K");
	p = fresh();
	p.after = ", writing the views";
	p.label = " (verify 5/6: x)";
	EXPECT_SHOWN(&p, 100, 100,
		     "\r[##########] 100% 100/100 events 0 ev/s, writing the"
		     " views (verify 5/6: x)\033[K");
	p = bar_since(1e6);
	p.unit = "records";
	p.rate = "rec/s";
	p.label = " (verify 5/6: x)";
	EXPECT_SHOWN(&p, 500000000, 500015000,
		     "\r[#########.] 99% 500000000/500015000 records 500 rec/s"
		     " ETA 30s (verify 5/6: x)\033[K");
}

/* Done: all of the last total, and how long since the start; an error:
 * the line ended; never drawn: nothing. */
Test(progress, end_says_the_time_or_ends_the_line)
{
	struct progress p = fresh();
	EXPECT_SHOWN(&p, 40, 100,
		     "\r[####......] 40% 40/100 events 0 ev/s\033[K");
	set_ago(&p.start, 2.5);
	capture();
	end_progress(&p, 0);
	double s = time_in(captured(), "\r[##########] 100% 100/100 events in ",
			   " s\033[K\n");
	cr_expect(s == 2.5, "%g", s);

	capture();
	end_progress(&p, -5);
	cr_expect_str_eq(captured(), "\n");

	p = fresh();
	capture();
	end_progress(&p, 0);
	end_progress(&p, -5);
	cr_expect_str_eq(captured(), "");
}

#define EXPECT_REBUILD(b, s, want)                                         \
	do {                                                               \
		capture();                                                 \
		rebuild_progress((b), (s));                                \
		cr_expect_str_eq(captured(), (want));                      \
	} while (0)

/* An open's first call says why the command waits and starts the clock;
 * each step its bar and label; the bar goes on past the log read, in
 * MiB of views written. */
Test(progress, a_rebuild_bar_tells_both_steps)
{
	struct rebuild_bar b = { .open = true };
	set_ago(&b.start, 10000);
	tl_rebuild_step s = { 1, 2, "reading the log", "events", 0, 100 };
	EXPECT_REBUILD(&b, &s,
		       "tasklog: bringing the views up to date before"
		       " answering (a rebuild from the log, or a wait for"
		       " another's)\n"
		       "\r[..........] 0% 0/100 events 0 ev/s"
		       " (1/2: reading the log)\033[K");
	cr_expect(b.started);
	cr_expect(seconds_since(&b.start) < 100, "%g",
		  seconds_since(&b.start));
	/* the log read: what comes before the writes are counted */
	b.p.drawn = -1000;
	s.done = 100;
	EXPECT_REBUILD(&b, &s,
		       "\r[##########] 100% 100/100 events 0 ev/s, loading"
		       " and sorting the views (1/2: reading the log)\033[K");
	cr_expect_eq(b.events, 100);
	/* step 2: a bar of its own, in MiB (whole ones), not throttled by
	 * the last step's drawing */
	s = (tl_rebuild_step){ 2, 2, "writing the views", "bytes",
			       (uint64_t)300 << 20, (uint64_t)1200 << 20 };
	EXPECT_REBUILD(&b, &s,
		       "\r[##........] 25% 300/1200 MiB 0.0 MiB/s"
		       " (2/2: writing the views)\033[K");
	/* its rate from that first call: 300 MiB more in 2 s */
	b.p.base_secs -= 2;
	b.p.drawn = -1000;
	s.done = ((uint64_t)600 << 20) + 1000;
	EXPECT_REBUILD(&b, &s,
		       "\r[#####.....] 50% 600/1200 MiB 150 MiB/s ETA 4s"
		       " (2/2: writing the views)\033[K");
	s.done = s.total;
	b.p.drawn = -1000;
	capture();
	rebuild_progress(&b, &s);
	(void)captured();
	cr_expect_eq(b.bytes, (uint64_t)1200 << 20);
	set_ago(&b.start, 2.5);
	capture();
	end_rebuild_progress(&b, 0);
	double t = time_in(captured(), "\r[##########] 100% 100/100 events in ",
			   " s (1200 MiB of views written)\033[K\n");
	cr_expect(t == 2.5, "%g", t);
	capture();
	end_rebuild_progress(&b, -5);
	cr_expect_str_eq(captured(), "\n");

	/* `rebuild` itself says no line first; step 1 again (a rebuild
	 * that starts over in a grown map): its bar again */
	b = (struct rebuild_bar){ 0 };
	s = (tl_rebuild_step){ 2, 2, "writing the views", "bytes", 0, 0 };
	capture();
	rebuild_progress(&b, &s);
	(void)captured();
	s = (tl_rebuild_step){ 1, 2, "reading the log", "events", 10, 100 };
	EXPECT_REBUILD(&b, &s,
		       "\r[#.........] 10% 10/100 events 0 ev/s"
		       " (1/2: reading the log)\033[K");
	/* lower in step 1 (started over there): drawn from there, at
	 * once */
	s.done = 60;
	b.p.drawn = -1000;
	capture();
	rebuild_progress(&b, &s);
	(void)captured();
	s.done = 20;
	EXPECT_REBUILD(&b, &s,
		       "\r[##........] 20% 20/100 events 0 ev/s"
		       " (1/2: reading the log)\033[K");
	/* an open that waited while another process rebuilt: step 1's
	 * first call only, then the end */
	b = (struct rebuild_bar){ .open = true };
	s = (tl_rebuild_step){ 1, 2, "reading the log", "events", 0, 100 };
	capture();
	rebuild_progress(&b, &s);
	(void)captured();
	set_ago(&b.start, 1.5);
	capture();
	end_rebuild_progress(&b, 0);
	t = time_in(captured(), "\r[##########] brought up to date by another"
				" process: waited ",
		    " s\033[K\n");
	cr_expect(t >= 1.5 && t < 2.4, "%g", t);
	/* never drawn: nothing at the end */
	b = (struct rebuild_bar){ 0 };
	capture();
	end_rebuild_progress(&b, 0);
	end_rebuild_progress(&b, -5);
	cr_expect_str_eq(captured(), "");
}

/* The rate's start is the first call that has done some even when that
 * call is not drawn (a redraw at most ten times a second): an import of
 * 10,000 records told every 512 showed "71% 7168/10000 records 0 rec/s"
 * (a walk-through), its first drawn call with some done being its
 * start. */
Test(progress, the_rate_counts_from_a_first_call_not_drawn)
{
	struct progress p = fresh();
	EXPECT_SHOWN(&p, 0, 100, "\r[..........] 0% 0/100 events 0 ev/s\033[K");
	EXPECT_SHOWN(&p, 10, 100, ""); /* within 0.1 s: not drawn */
	cr_expect(p.based);
	cr_expect_eq(p.base_done, 10);
	p.base_secs -= 2; /* 20 more in 2 s: 10/s */
	p.drawn = -1000;
	EXPECT_SHOWN(&p, 30, 100,
		     "\r[###.......] 30% 30/100 events 10 ev/s ETA 7s\033[K");
}

/* MiB with a decimal under 10 MiB (a small rebuild said "54% 0/1 MiB"),
 * whole ones from there; the rebuild's last line alike. */
Test(progress, small_mib_have_a_decimal)
{
	struct progress p = fresh();
	p.unit = "MiB";
	p.rate = "MiB/s";
	p.bytes = true;
	EXPECT_SHOWN(&p, (uint64_t)3 << 19, (uint64_t)3 << 20,
		     "\r[#####.....] 50% 1.5/3.0 MiB 0.0 MiB/s\033[K");
	p = fresh();
	p.unit = "MiB";
	p.rate = "MiB/s";
	p.bytes = true;
	EXPECT_SHOWN(&p, (uint64_t)5 << 20, (uint64_t)10 << 20,
		     "\r[#####.....] 50% 5/10 MiB 0.0 MiB/s\033[K");
	struct rebuild_bar b = { .shown = true, .events = 7,
				 .bytes = (uint64_t)3 << 19 };
	set_ago(&b.start, 0);
	capture();
	end_rebuild_progress(&b, 0);
	cr_expect(strstr(captured(), " events in 0.0 s (1.5 MiB of views "
				     "written)"),
		  "%s", captured());
	b.bytes = (uint64_t)12 << 20;
	capture();
	end_rebuild_progress(&b, 0);
	cr_expect(strstr(captured(), "(12 MiB of views written)"), "%s",
		  captured());
	/* rounded down, as the bar's last draw said it ("528/528 MiB") */
	b.bytes = ((uint64_t)528 << 20) + (600 << 10);
	capture();
	end_rebuild_progress(&b, 0);
	cr_expect(strstr(captured(), "(528 MiB of views written)"), "%s",
		  captured());
}

/* The rate counts from the first call that has done some: a step whose
 * first seconds do nothing (a rebuild's loads before its first write)
 * gets no ETA of hours from them.  Rates of bytes under 10 MiB/s keep a
 * decimal. */
Test(progress, the_rate_counts_from_the_first_call_that_did_some)
{
	struct progress p = fresh();
	p.unit = "MiB";
	p.rate = "MiB/s";
	p.bytes = true;
	set_ago(&p.start, 100);
	EXPECT_SHOWN(&p, 0, (uint64_t)100 << 20,
		     "\r[..........] 0% 0/100 MiB 0.0 MiB/s\033[K");
	cr_expect(!p.based);
	p.drawn = -1000;
	EXPECT_SHOWN(&p, (uint64_t)1 << 20, (uint64_t)100 << 20,
		     "\r[..........] 1% 1/100 MiB 0.0 MiB/s\033[K");
	cr_expect(p.based);
	p.base_secs -= 4; /* 20 MiB more in 4 s: 5 MiB/s */
	p.drawn = -1000;
	EXPECT_SHOWN(&p, (uint64_t)21 << 20, (uint64_t)100 << 20,
		     "\r[##........] 21% 21/100 MiB 5.0 MiB/s ETA 16s\033[K");
}

#define EXPECT_VERIFY(b, s, want)                                          \
	do {                                                               \
		capture();                                                 \
		verify_progress((b), (s));                                 \
		cr_expect_str_eq(captured(), (want));                      \
	} while (0)

/* Each step its own bar (unit, rate, a new start and rate, not
 * throttled by the last step's drawing) and its label; verify's clock
 * starts at the first. */
Test(progress, verify_resets_the_bar_each_step)
{
	struct verify_bar b = { 0 };
	set_ago(&b.start, 10000);
	tl_verify_step s = { .step = 1, .steps = 6, .what = "the chain",
			     .unit = "events", .done = 0, .total = 100 };
	EXPECT_VERIFY(&b, &s,
		      "\r[..........] 0% 0/100 events 0 ev/s"
		      " (verify 1/6: the chain)\033[K");
	cr_expect(seconds_since(&b.start) < 100, "%g",
		  seconds_since(&b.start));
	cr_expect(seconds_since(&b.p.start) < 100, "%g",
		  seconds_since(&b.p.start));
	/* the same step: the same bar, drawn just now */
	s.done = 50;
	EXPECT_VERIFY(&b, &s, "");

	set_ago(&b.start, 10000);
	set_ago(&b.p.start, 10000);
	s = (tl_verify_step){ .step = 2, .steps = 6, .what = "the pages",
			      .unit = "pages", .done = 5, .total = 10 };
	EXPECT_VERIFY(&b, &s,
		      "\r[#####.....] 50% 5/10 pages 0 pages/s"
		      " (verify 2/6: the pages)\033[K");
	cr_expect(seconds_since(&b.start) >= 10000, "%g",
		  seconds_since(&b.start));
	cr_expect(seconds_since(&b.p.start) < 100, "%g",
		  seconds_since(&b.p.start));
	cr_expect_eq(b.step, 2);
	cr_expect_eq(b.steps, 6);
	/* one that goes back: not drawn, the bar is the step's */
	s.done = 4;
	b.p.drawn = -1000;
	EXPECT_VERIFY(&b, &s, "");
}

/* ", loading and sorting" once the log is read, for the step that
 * rebuilds the views from it only; the writes in MiB. */
Test(progress, verify_writes_after_rebuilding_the_views)
{
	struct verify_bar b = { 0 };
	tl_verify_step s = { .step = 5, .steps = 7,
			     .what = "rebuilding the views: reading the log",
			     .unit = "events", .done = 100, .total = 100 };
	EXPECT_VERIFY(&b, &s,
		      "\r[##########] 100% 100/100 events 0 ev/s, loading and"
		      " sorting (verify 5/7: rebuilding the views: reading"
		      " the log)\033[K");
	b = (struct verify_bar){ 0 };
	s.done = 40;
	EXPECT_VERIFY(&b, &s,
		      "\r[####......] 40% 40/100 events 0 ev/s"
		      " (verify 5/7: rebuilding the views: reading the"
		      " log)\033[K");
	s = (tl_verify_step){ .step = 6, .steps = 7,
			      .what = "rebuilding the views: writing them",
			      .unit = "bytes", .done = (uint64_t)5 << 20,
			      .total = (uint64_t)20 << 20 };
	EXPECT_VERIFY(&b, &s,
		      "\r[##........] 25% 5/20 MiB 0.0 MiB/s"
		      " (verify 6/7: rebuilding the views: writing"
		      " them)\033[K");
	b = (struct verify_bar){ 0 };
	s = (tl_verify_step){ .step = 7, .steps = 7,
			      .what = "comparing the views", .unit = "events",
			      .done = 100, .total = 100 };
	EXPECT_VERIFY(&b, &s,
		      "\r[##########] 100% 100/100 events 0 ev/s"
		      " (verify 7/7: comparing the views)\033[K");
}

/* All steps: their count and time; fewer (the views not compared, the
 * pages being damaged): which of how many; an error: the line ended;
 * no step: nothing. */
Test(progress, end_verify_says_the_steps_or_ends_the_line)
{
	struct verify_bar b = { .step = 6, .steps = 6 };
	set_ago(&b.start, 2.5);
	static const int ok[] = { 0, 3 };
	for (int i = 0; i < 2; i++) {
		capture();
		end_verify_progress(&b, ok[i]);
		double t = time_in(captured(), "\r[##########] verify: 6 steps in ",
				   " s\033[K\n");
		cr_expect(t == 2.5, "%g", t);
	}
	b.step = 4;
	for (int i = 0; i < 2; i++) {
		capture();
		end_verify_progress(&b, ok[i]);
		double t = time_in(captured(),
				   "\r[##########] verify: 4 of 6 steps in ",
				   " s\033[K\n");
		cr_expect(t == 2.5, "%g", t);
	}
	capture();
	end_verify_progress(&b, -1);
	cr_expect_str_eq(captured(), "\n");
	b.step = 6;
	capture();
	end_verify_progress(&b, -1);
	end_verify_progress(&b, -2);
	cr_expect_str_eq(captured(), "\n\n");

	b = (struct verify_bar){ .step = 0, .steps = 0 };
	capture();
	end_verify_progress(&b, 0);
	end_verify_progress(&b, -1);
	b.steps = 6;
	end_verify_progress(&b, 0);
	cr_expect_str_eq(captured(), "");
}

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

/* Either side of INT_MAX minutes (128,849,018,820 s): 0.7% under it the
 * minutes are said (2,133,333,333 at 1 ev/s, moving by 2,133 a second
 * of delay), 0.5% over it capped. */
Test(progress, eta_is_capped_at_int_max_minutes_exactly)
{
	struct progress p = bar_since(1e6);
	capture();
	show_progress(&p, 1000000, 128001000000ULL);
	const char *out = captured();
	const char *want = "\r[..........] 0% 1000000/128001000000 events 1"
			   " ev/s ETA ";
	cr_assert(!strncmp(out, want, strlen(want)), "%s", out);
	int m = 0, s = -1;
	char tail[8] = "";
	cr_assert_eq(sscanf(out + strlen(want), "%dm%2ds%7s", &m, &s, tail), 3,
		     "%s", out);
	cr_expect(m >= 2133333333 && m < 2133340000, "%s", out);
	cr_expect(s >= 0 && s <= 59, "%s", out);

	p = bar_since(1e6);
	EXPECT_SHOWN(&p, 1000000, 129501000000ULL,
		     "\r[..........] 0% 1000000/129501000000 events 1 ev/s"
		     " ETA 2147483647m00s\033[K");
}

/* The stack show_progress's frame will take, filled with 'x'. */
static void __attribute__((noinline)) dirty_stack(void)
{
	volatile char junk[8192];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = 'x';
}

/* The bar is ten characters whatever its frame held before. */
Test(progress, bar_ends_after_ten_characters)
{
	struct progress p = fresh();
	capture();
	dirty_stack();
	show_progress(&p, 45, 100);
	cr_expect_str_eq(captured(),
			 "\r[####......] 45% 45/100 events 0 ev/s\033[K");
}

#define EXPECT_CALL(fn, b, done, total, want)                              \
	do {                                                               \
		capture();                                                 \
		fn((b), (done), (total));                                  \
		cr_expect_str_eq(captured(), (want));                      \
	} while (0)

/* An import's bar: the records, then the last commit's writes of the
 * views in MiB, then the line saying both; a batch that runs again (its
 * map grown) goes back to the records where they stood. */
Test(progress, an_import_bar_tells_records_then_the_views)
{
	/* the lines drawn more than once */
#define RECORDS_DONE                                                       \
	"\r[##########] 100% 100/100 records 0 rec/s, then the views"       \
	" (1/2: running the records)\033[K"
#define VIEWS_BEGIN                                                        \
	"\r[..........] 0% 0/40 MiB 0.0 MiB/s (2/2: writing the views)\033[K"
	struct import_bar b;
	import_bar_start(&b, false);
	EXPECT_CALL(import_records, &b, 0, 100,
		    "\r[..........] 0% 0/100 records 0 rec/s"
		    " (1/2: running the records)\033[K");
	b.rec.drawn = -1000;
	EXPECT_CALL(import_records, &b, 100, 100, RECORDS_DONE);
	EXPECT_CALL(import_views, &b, 0, (uint64_t)40 << 20, VIEWS_BEGIN);
	b.views.drawn = -1000;
	EXPECT_CALL(import_views, &b, (uint64_t)10 << 20, (uint64_t)40 << 20,
		    "\r[##........] 25% 10/40 MiB 0.0 MiB/s"
		    " (2/2: writing the views)\033[K");
	/* run again: the records' bar at once, where it stood */
	EXPECT_CALL(import_records, &b, 40, 100, RECORDS_DONE);
	b.rec.drawn = -1000;
	EXPECT_CALL(import_records, &b, 100, 100, RECORDS_DONE);
	/* and its commit: a new bar, its rate from it */
	EXPECT_CALL(import_views, &b, 0, (uint64_t)40 << 20, VIEWS_BEGIN);
	b.views.drawn = -1000;
	EXPECT_CALL(import_views, &b, (uint64_t)40 << 20, (uint64_t)40 << 20,
		    "\r[##########] 100% 40/40 MiB 0.0 MiB/s, committing"
		    " (2/2: writing the views)\033[K");
	/* the end says every commit's (run_import sets it from
	 * import_out), in whole MiB rounded down as the bar says them (a
	 * review: "528/528 MiB", then "529 MiB of views written") */
	b.bytes = ((uint64_t)528 << 20) + (600 << 10);
	set_ago(&b.rec.start, 2.5);
	capture();
	end_import_progress(&b, 0);
	double t = time_in(captured(), "\r[##########] 100% 100/100 records in ",
			   " s (528 MiB of views written)\033[K\n");
	cr_expect(t == 2.5, "%g", t);
	capture();
	end_import_progress(&b, -5);
	cr_expect_str_eq(captured(), "\n");

	/* a check commits nothing: one bar, no step */
	import_bar_start(&b, true);
	EXPECT_CALL(import_records, &b, 0, 10,
		    "\r[..........] 0% 0/10 records 0 rec/s\033[K");
	b.rec.drawn = -1000;
	EXPECT_CALL(import_records, &b, 10, 10,
		    "\r[##########] 100% 10/10 records 0 rec/s\033[K");
	set_ago(&b.rec.start, 1.5);
	capture();
	end_import_progress(&b, 0);
	t = time_in(captured(), "\r[##########] 100% 10/10 records in ",
		    " s\033[K\n");
	cr_expect(t >= 1.5 && t < 2.4, "%g", t);
	/* nothing drawn (not a terminal): nothing said */
	import_bar_start(&b, false);
	capture();
	end_import_progress(&b, 0);
	cr_expect_str_eq(captured(), "");
#undef RECORDS_DONE
#undef VIEWS_BEGIN
}

/* A bar in bytes (backup's) ends in MiB as it draws them, not in bytes. */
Test(progress, a_bar_in_bytes_ends_in_mib)
{
	struct progress p = { .unit = "MiB", .rate = "MiB/s", .bytes = true };
	progress_clock(&p.start);
	uint64_t total = ((uint64_t)528 << 20) + (600 << 10);
	EXPECT_SHOWN(&p, 0, total,
		     "\r[..........] 0% 0/528 MiB 0.0 MiB/s\033[K");
	p.drawn = -1000;
	EXPECT_SHOWN(&p, total, total,
		     "\r[##########] 100% 528/528 MiB 0.0 MiB/s\033[K");
	set_ago(&p.start, 2.5);
	capture();
	end_progress(&p, 0);
	double t = time_in(captured(), "\r[##########] 100% 528/528 MiB in ",
			   " s\033[K\n");
	cr_expect(t == 2.5, "%g", t);
	p.total = (uint64_t)3 << 19; /* 1.5 MiB */
	capture();
	end_progress(&p, 0);
	cr_expect(strstr(captured(), "100% 1.5/1.5 MiB in "), "%s",
		  captured());
	/* a rate past 999.5 MiB/s in MiB/s, not "1k MiB/s" (a review: a
	 * copy from the page cache) */
	struct progress q = { .unit = "MiB", .rate = "MiB/s", .bytes = true,
			      .based = true, .base_secs = -1.0 };
	progress_clock(&q.start);
	capture();
	show_progress(&q, (uint64_t)1200 << 20, (uint64_t)4000 << 20);
	/* 1200 MiB in 1 s (the clock stopped: before 0.3.53 the test's
	 * own delay counted, and a loaded machine printed 1195) */
	cr_expect_str_eq(captured(), "\r[###.......] 30% 1200/4000 MiB 1200 "
				     "MiB/s ETA 2s\033[K");
}

/* A signal that ends the command while a bar is on the line ends the
 * line first, then the command dies of it as before (since 0.3.54: the
 * shell's prompt, or its "Terminated", was written over the bar).  A bar
 * ended by its end_* function leaves nothing more to end.  Each in a
 * child, which the signal kills. */
static void die_under_a_bar(int sig, bool ended, int *status,
			    const char **out)
{
	fflush(stderr);
	capture();
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit none = { 0, 0 }; /* SIGQUIT's core */
		setrlimit(RLIMIT_CORE, &none);
		struct progress p = bar_since(2);
		show_progress(&p, 500, 1000);
		if (ended)
			end_progress(&p, 1);
		raise(sig);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, status, 0), pid);
	*out = captured();
}

Test(progress, a_signal_ends_the_bars_line_then_kills)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		int st;
		const char *out;
		die_under_a_bar(sigs[i], false, &st, &out);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i],
			  "signal %d: status %#x", sigs[i], st);
		size_t n = strlen(out);
		cr_assert(n > 4 && !strncmp(out + n - 4, "\033[K\n", 4),
			  "signal %d: %s", sigs[i], out);
		die_under_a_bar(sigs[i], true, &st, &out);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i]);
		n = strlen(out); /* the end's one newline, no second */
		cr_assert(n > 5 && !strncmp(out + n - 4, "\033[K\n", 4) &&
				  out[n - 5] != '\n',
			  "signal %d, ended: %s", sigs[i], out);
	}
}
