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
 * With TL_FULL_PUT=k instead, the k-th call of mdb_put or mdb_cursor_put
 * made by the program while main() runs answers MDB_MAP_FULL, once, and
 * the report counts those calls: a full map met at any put of a write,
 * the views' puts at commit among them (LMDB's calls inside itself are
 * not interposed, so each put is counted once).
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

#include <lmdb.h>

#define EXPORT __attribute__((visibility("default")))

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long fail_at;  /* 0: never */
static long counted;
static int armed, hit;
static long full_at;  /* TL_FULL_PUT; 0: never */
static long put_calls;
static int puts_armed;

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
			 __atomic_load_n(full_at ? &put_calls : &counted,
					 __ATOMIC_SEQ_CST));
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

typedef int (*put_fn)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *,
		      unsigned);
typedef int (*cursor_put_fn)(MDB_cursor *, MDB_val *, MDB_val *, unsigned);

/* Resolved in counted_main, before anything is armed (dlsym may
 * allocate). */
static put_fn real_put;
static cursor_put_fn real_cursor_put;

static int full_now(void)
{
	if (!__atomic_load_n(&puts_armed, __ATOMIC_SEQ_CST))
		return 0;
	if (__atomic_add_fetch(&put_calls, 1, __ATOMIC_SEQ_CST) != full_at)
		return 0;
	__atomic_store_n(&hit, 1, __ATOMIC_SEQ_CST);
	write_report();
	return 1;
}

EXPORT int mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data,
		   unsigned flags)
{
	return full_now() ? MDB_MAP_FULL
			  : real_put(txn, dbi, key, data, flags);
}

EXPORT int mdb_cursor_put(MDB_cursor *c, MDB_val *key, MDB_val *data,
			  unsigned flags)
{
	return full_now() ? MDB_MAP_FULL : real_cursor_put(c, key, data, flags);
}

/* At exit: no allocation here, the fault may have spent the heap. */
__attribute__((destructor)) static void report(void)
{
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&puts_armed, 0, __ATOMIC_SEQ_CST);
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
	real_put = (put_fn)dlsym(RTLD_NEXT, "mdb_put");
	real_cursor_put = (cursor_put_fn)dlsym(RTLD_NEXT, "mdb_cursor_put");
	const char *p = getenv("TL_FULL_PUT");
	full_at = p ? atol(p) : 0;
	__atomic_store_n(&armed, fail_at > 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&puts_armed, full_at > 0, __ATOMIC_SEQ_CST);
	int rc = real_main(argc, argv, envp);
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&puts_armed, 0, __ATOMIC_SEQ_CST);
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
