/*
 * util.h - helpers shared by the benchmark programs (bench/util.c).
 */
#ifndef TL_BENCH_UTIL_H
#define TL_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Print "PROGRAM: message" on stderr and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A line on stderr. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* Monotonic wall time and this process's CPU time, in seconds. */
double now_s(void);
double cpu_s(void);
/* Bytes this process handed to write system calls (wchar of
 * /proc/self/io); 0 when unreadable. */
uint64_t io_written(void);
void rm_rf(const char *path);
uint64_t file_size(const char *path);
void mkdir_p(const char *path);
/* A task title "VERB PERSON[ TOPIC]" from word lists shared by the
 * benchmarks (10 verbs, 12 people, 8 topics; indexes taken modulo). */
int bench_title(char *t, size_t cap, uint32_t verb, uint32_t person,
		uint32_t topic);

#endif
