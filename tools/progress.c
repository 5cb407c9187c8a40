/*
 * progress.c - progress bars on stderr; see progress.h.
 */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "progress.h"

const struct timespec *progress_frozen;

void progress_clock(struct timespec *t)
{
	if (progress_frozen)
		*t = *progress_frozen;
	else
		clock_gettime(CLOCK_MONOTONIC, t);
}

double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	progress_clock(&t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The columns of the terminal stderr is: its size, else $COLUMNS, else
 * 80 (at least 20). */
static int stderr_columns(void)
{
	struct winsize ws;
	long n = 0;
	const char *cols = getenv("COLUMNS");
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
		n = ws.ws_col;
	} else if (cols && *cols) { /* a whole number, as for tables */
		char *end;
		n = strtol(cols, &end, 10);
		if (*end)
			n = 0;
	}
	if (n <= 0)
		n = 80;
	return n < 20 ? 20 : n > 4096 ? 4096 : (int)n;
}

/* Cut s to cols characters, the last of them "…", when it has more;
 * a cut at a character's start.  s has room for 2 bytes past its NUL
 * (the ellipsis is 3 bytes, where the two characters it replaces may be
 * 1 each). */
static void fit_width(char *s, int cols)
{
	int n = 0;
	char *last = NULL;
	for (char *c = s; *c; c++) {
		if (((unsigned char)*c & 0xc0) == 0x80)
			continue;
		if (++n == cols)
			last = c;
		else if (n == cols + 1) {
			memcpy(last, "\u2026", sizeof "\u2026");
			return;
		}
	}
}

/* A bar's line is on the terminal, not ended: a signal that ends the
 * command ends the line first, so that the shell's prompt (or its
 * "Terminated") is not written over the bar (since 0.3.54).  Set when a
 * bar is drawn, cleared by the end_* functions, which end the line. */
static volatile sig_atomic_t bar_open;
static void (*volatile on_ending_signal)(void);

static void end_line_and_die(int sig)
{
	if (bar_open) {
		bar_open = 0;
		(void)!write(STDERR_FILENO, "\n", 1);
	}
	if (on_ending_signal)
		on_ending_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

void catch_where_default(const int *sigs, size_t n, void (*fn)(int))
{
	for (size_t i = 0; i < n; i++) {
		struct sigaction was, sa = { .sa_handler = fn };
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &was) == 0 &&
		    was.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* The handlers, once, for the signals that end a command where nothing
 * else handles them (export --follow has its own; an ignored SIGINT, a
 * background job's, stays ignored). */
static void catch_ending_signals(void)
{
	static bool done;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	if (done)
		return;
	done = true;
	catch_where_default(sigs, sizeof sigs / sizeof sigs[0],
			    end_line_and_die);
}

void progress_catch_signals(void (*cleanup)(void))
{
	on_ending_signal = cleanup;
	catch_ending_signals();
}

/* "[#####.....] 45% 1234567/2000000 events 512k ev/s ETA 3s", redrawn in
 * place on stderr (at most ten times a second). */
void show_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	double secs = seconds_since(&p->start);
	/* from the first call that has done some, drawn or not: a step
	 * whose first second writes nothing (a rebuild's loads and sorts)
	 * gets no ETA of hours from it */
	if (!p->based && done && done >= p->most) {
		p->based = true;
		p->base_secs = secs;
		p->base_done = done;
	}
	if (done < p->most ||
	    (p->shown && done < total && secs - p->drawn < 0.1))
		return;
	p->most = done;
	p->drawn = secs;
	p->total = total;
	double rate = secs > p->base_secs
			      ? (double)(done - p->base_done) /
					(secs - p->base_secs)
			      : 0;
	unsigned pct = 100;
	/* past 1.8e17 done * 100 would wrap: then total, over 1.8e17
	 * too, is divided first (its hundredth is exact to 1e-15) */
	if (done < total)
		pct = (unsigned)(done <= UINT64_MAX / 100 ? done * 100 / total
				 : done / (total / 100));
	if (pct > 99 && done < total)
		pct = 99;
	char bar[11], speed[24], eta[24] = "";
	/* counts, or MiB: whole ones, with a decimal under 10 MiB (a small
	 * rebuild said "54% 0/1 MiB") */
	char counts[48];
	if (p->bytes && total < (uint64_t)10 << 20)
		snprintf(counts, sizeof counts, "%.1f/%.1f",
			 (double)done / 1048576.0, (double)total / 1048576.0);
	else if (p->bytes) /* as mib() says them */
		snprintf(counts, sizeof counts, "%" PRIu64 "/%" PRIu64,
			 done >> 20, total >> 20);
	else
		snprintf(counts, sizeof counts, "%" PRIu64 "/%" PRIu64, done,
			 total);
	double shown_rate = p->bytes ? rate / 1048576.0 : rate;

	memset(bar, '#', pct / 10);
	memset(bar + pct / 10, '.', 10 - pct / 10);
	bar[10] = 0;
	/* a rate that rounds up to the next unit is said in it: 999,700/s
	 * is "1.0M", not "1000k" */
	if (shown_rate >= 999.5e3 && !p->bytes)
		snprintf(speed, sizeof speed, "%.1fM", shown_rate / 1e6);
	else if (shown_rate >= 999.5 && !p->bytes) /* MiB/s: "1234" */
		snprintf(speed, sizeof speed, "%.0fk", shown_rate / 1e3);
	else if (p->bytes && shown_rate < 9.95)
		snprintf(speed, sizeof speed, "%.1f", shown_rate);
	else
		snprintf(speed, sizeof speed, "%.0f", shown_rate);
	if (rate > 0 && done < total) {
		double left = (double)(total - done) / rate;
		/* a rate near 0 leaves more minutes than an int holds (and
		 * converting those to int would be undefined): INT_MAX */
		if (left > INT_MAX * 60.0)
			left = INT_MAX * 60.0;
		/* rounded to a second once, then said: 59.7 s is "1m00s"
		 * (not "60s"), 119.9 s "2m00s" (not "1m59s") */
		long long whole = (long long)(left + 0.5);
		if (whole >= 60)
			snprintf(eta, sizeof eta, " ETA %dm%02ds",
				 (int)(whole / 60), (int)(whole % 60));
		else
			snprintf(eta, sizeof eta, " ETA %ds", (int)whole);
	}
	/* Within the terminal's width: a line that wraps leaves its first
	 * row behind at each redraw, as \r goes back to the start of the
	 * last row only (before 0.3.51 verify's bar, 81 to 121 columns,
	 * left a trail of them in 80).  Where the whole line is too wide,
	 * the counts and the rate go first, then its end is cut. */
	char line[512 + 2];
	const char *after = done >= total && p->after ? p->after : "",
		   *label = p->label ? p->label : "";
	int cols = stderr_columns() - 1;
	int n = snprintf(line, 512, "[%s] %u%% %s %s %s %s%s%s%s", bar, pct,
			 counts, p->unit, speed, p->rate, eta, after, label);
	if (n > cols) /* ASCII but for what after and label may hold */
		snprintf(line, 512, "[%s] %u%%%s%s%s", bar, pct, eta, after,
			 label);
	fit_width(line, cols);
	/* \033[K clears what a longer line before left behind. */
	catch_ending_signals();
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	bar_open = 1;
	p->shown = true;
}

/* MiB as the bars' last draw says them: with a decimal under 10 MiB,
 * else whole ones, rounded down (the bar said "528/528 MiB" and the end
 * line "529 MiB"). */
static void mib(char out[24], uint64_t bytes)
{
	if (bytes < (uint64_t)10 << 20)
		snprintf(out, 24, "%.1f", (double)bytes / 1048576.0);
	else
		snprintf(out, 24, "%" PRIu64, bytes >> 20);
}

/* The bar's last line: done, and how long it took; or the line ended
 * before an error is said. */
void end_progress(const struct progress *p, int rc)
{
	bar_open = 0;
	char total[24];
	if (p->bytes)
		mib(total, p->total);
	else
		snprintf(total, sizeof total, "%" PRIu64, p->total);
	if (p->shown && !rc)
		fprintf(stderr, "\r[##########] 100%% %s/%s %s in %.1f s\033[K\n",
			total, total, p->unit, seconds_since(&p->start));
	else if (p->shown)
		fputc('\n', stderr);
}

/* A new bar for a step counted in unit ("bytes" said in MiB), its rate
 * written into rate (24 bytes), started now. */
static struct progress step_bar(const char *unit, char rate[24],
				const char *label, const char *after)
{
	bool bytes = !strcmp(unit, "bytes");
	snprintf(rate, 24, "%s/s",
		 !strcmp(unit, "events") ? "ev" : bytes ? "MiB" : unit);
	struct progress p = { .unit = bytes ? "MiB" : unit, .rate = rate,
			      .bytes = bytes, .label = label, .after = after };
	progress_clock(&p.start);
	return p;
}

void rebuild_progress(void *arg, const tl_rebuild_step *s)
{
	struct rebuild_bar *b = arg;
	if (!b->started) {
		b->started = true;
		progress_clock(&b->start);
		if (b->open)
			fputs("tasklog: bringing the views up to date before "
			      "answering (a rebuild from the log, or a wait "
			      "for another's)\n",
			      stderr);
	}
	/* step 1 again, or lower in it: started over (in a grown map) */
	if (s->step != b->step || (s->step == 1 && s->done < b->p.most)) {
		b->step = s->step;
		snprintf(b->label, sizeof b->label, " (%d/%d: %s)", s->step,
			 s->steps, s->what);
		/* after step 1 the views are loaded from the tasks' final
		 * states and sorted, before the writes are counted */
		b->p = step_bar(s->unit, b->rate, b->label,
				s->step == 1 && s->steps > 1
					? ", loading and sorting the views"
					: NULL);
	}
	if (s->step == 1)
		b->events = s->total;
	else
		b->bytes = s->done;
	show_progress(&b->p, s->done, s->total);
	b->shown |= b->p.shown;
}

void end_rebuild_progress(const struct rebuild_bar *b, int rc)
{
	bar_open = 0;
	char written[24];
	mib(written, b->bytes);
	/* an open that waited for another process's build, which left
	 * nothing to do: not this one's events */
	if (b->shown && !rc && b->step == 1)
		fprintf(stderr, "\r[##########] brought up to date by another"
				" process: waited %.1f s\033[K\n",
			seconds_since(&b->start));
	else if (b->shown && !rc)
		fprintf(stderr, "\r[##########] 100%% %" PRIu64 "/%" PRIu64
			" events in %.1f s (%s MiB of views written)"
			"\033[K\n", b->events, b->events,
			seconds_since(&b->start), written);
	else if (b->shown)
		fputc('\n', stderr);
}

void import_bar_start(struct import_bar *b, bool check)
{
	*b = (struct import_bar){
		.rec = { .unit = "records", .rate = "rec/s",
			 .label = check ? NULL : " (1/2: running the records)",
			 /* a check commits nothing: no second step */
			 .after = check ? NULL : ", then the views" },
	};
	progress_clock(&b->rec.start);
}

void import_records(void *arg, uint64_t done, uint64_t total)
{
	struct import_bar *b = arg;
	if (b->writing) { /* the last batch runs again (its map grown) */
		b->writing = false;
		b->rec.drawn = -1; /* redrawn now, where it stood */
		show_progress(&b->rec, b->rec.most, b->rec.total);
	}
	show_progress(&b->rec, done, total);
}

void import_views(void *arg, uint64_t done, uint64_t total)
{
	struct import_bar *b = arg;
	if (!b->writing && !done) {
		b->writing = true;
		b->views = step_bar("bytes", b->rate,
				    " (2/2: writing the views)",
				    ", committing");
	}
	show_progress(&b->views, done, total);
}

void end_import_progress(const struct import_bar *b, int rc)
{
	bar_open = 0;
	char written[24];
	mib(written, b->bytes);
	/* (the records' bar is drawn first, at their first call) */
	if (b->rec.shown && !rc && b->bytes)
		fprintf(stderr, "\r[##########] 100%% %" PRIu64 "/%" PRIu64
			" records in %.1f s (%s MiB of views written)"
			"\033[K\n", b->rec.total, b->rec.total,
			seconds_since(&b->rec.start), written);
	else
		end_progress(&b->rec, rc);
}

void verify_progress(void *arg, const tl_verify_step *s)
{
	struct verify_bar *b = arg;
	if (s->step != b->step) {
		if (!b->step)
			progress_clock(&b->start);
		b->step = s->step;
		b->steps = s->steps;
		snprintf(b->label, sizeof b->label, " (verify %d/%d: %s)",
			 s->step, s->steps, s->what);
		b->p = step_bar(s->unit, b->rate, b->label,
				strstr(s->what, "reading the log")
					? ", loading and sorting"
					: NULL);
	}
	show_progress(&b->p, s->done, s->total);
}

void end_verify_progress(const struct verify_bar *b, int rc)
{
	bar_open = 0;
	if (b->step && b->step == b->steps && rc >= 0)
		fprintf(stderr, "\r[##########] verify: %d steps in %.1f s\033[K\n",
			b->steps, seconds_since(&b->start));
	else if (b->step && rc >= 0) /* views not compared: damaged pages */
		fprintf(stderr, "\r[##########] verify: %d of %d steps in %.1f "
				"s\033[K\n",
			b->step, b->steps, seconds_since(&b->start));
	else if (b->step)
		fputc('\n', stderr);
}
