/*
 * failalloc.c - an LD_PRELOAD library for the end-to-end tests
 * (e2e_oom.c): with TL_FAIL_ALLOC=k in the environment, the k-th
 * allocation (malloc, calloc or realloc, by any object of the process)
 * made while main() runs fails with ENOMEM, once.  The file named by
 * TL_FAIL_REPORT (if set) receives "hit" and the allocation's number at
 * the failure (a process may then end by _exit), and "hit" or "miss" and
 * the number of allocations counted when the process ends by exit(), so
 * that the test knows when k has passed the last one.
 *
 * glibc's allocator lies under the definitions here (__libc_malloc and
 * its kin), and its free, memalign and the rest stay as they are: one
 * heap.  main() is wrapped through __libc_start_main so that the loader
 * and the libraries' constructors run unfailed.  Not for a sanitizer
 * build, whose runtime owns malloc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long fail_at;  /* 0: never */
static long counted;
static int armed, hit;

/* TL_FAIL_REPORT := what counted; with write(2) alone (no allocation:
 * the fault may have spent the heap). */
static void write_report(void)
{
	const char *path = getenv("TL_FAIL_REPORT");
	char line[64];
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return;
	int n = snprintf(line, sizeof line, "%s %ld\n", hit ? "hit" : "miss",
			 __atomic_load_n(&counted, __ATOMIC_SEQ_CST));
	if (n > 0 && write(fd, line, (size_t)n) != n)
		n = -1;
	close(fd);
}

static int failing(void)
{
	if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST))
		return 0;
	long n = __atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
	if (n != fail_at)
		return 0;
	__atomic_store_n(&hit, 1, __ATOMIC_SEQ_CST);
	write_report(); /* now: the process may end by _exit */
	errno = ENOMEM;
	return 1;
}

EXPORT void *malloc(size_t n)
{
	return failing() ? NULL : __libc_malloc(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
	return failing() ? NULL : __libc_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	return failing() ? NULL : __libc_realloc(p, n);
}

/* At exit: no allocation here, the fault may have spent the heap. */
__attribute__((destructor)) static void report(void)
{
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
	write_report();
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

/* Counted from main's start to its return: what runs at exit (gcov's
 * dump of a coverage build) is not the program's. */
static int counted_main(int argc, char **argv, char **envp)
{
	const char *k = getenv("TL_FAIL_ALLOC");
	fail_at = k ? atol(k) : 0;
	__atomic_store_n(&armed, fail_at > 0, __ATOMIC_SEQ_CST);
	int rc = real_main(argc, argv, envp);
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
	return rc;
}

typedef int (*start_fn)(main_fn, int, char **, void (*)(void),
			void (*)(void), void (*)(void), void *);

EXPORT int __libc_start_main(main_fn main, int argc, char **argv,
			     void (*init)(void), void (*fini)(void),
			     void (*rtld_fini)(void), void *stack_end)
{
	start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	return real(counted_main, argc, argv, init, fini, rtld_fini,
		    stack_end);
}
