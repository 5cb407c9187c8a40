/*
 * util.c - small helpers shared by the benchmark programs: errors, time,
 * CPU and I/O counters, and files.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Bytes handed to write(2) and co. (wchar of /proc/self/io), 0 when
 * unreadable: LMDB's page writes, SQLite's WAL and checkpoint writes. */
uint64_t io_written(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		die("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* 0755, whatever the umask: run as root, tasklog opens only a workspace
 * whose directory neither its group nor others may change (0.3.54). */
void mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		die("cannot create %s: %s", buf, strerror(errno));
}

int bench_title(char *t, size_t cap, uint32_t verb, uint32_t person,
		uint32_t topic)
{
	static const char *const verbs[] = {
		"Call", "Email", "Follow up with", "Send proposal to",
		"Book a demo for", "Check in with", "Prepare a quote for",
		"Confirm the meeting with", "Chase the invoice of",
		"Review the contract of"
	};
	static const char *const who[] = {
		"Dana Whitfield", "Marco Rossi", "Aiko Tanaka", "Priya Nair",
		"Jonas Berg", "Lena Fischer", "Omar Haddad", "Sofia Duarte",
		"Wei Chen", "Grace Okafor", "Tom Becker", "Nadia Petrova"
	};
	static const char *const about[] = {
		"", " about the renewal", " re: Q3 pricing",
		" about onboarding", " on the pilot results",
		" about the upgrade", " before Friday", " (annual plan)"
	};
	return snprintf(t, cap, "%s %s%s", verbs[verb % 10],
			who[person % 12], about[topic % 8]);
}
