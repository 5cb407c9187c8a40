/*
 * proc.c - what the library keeps per process: libsodium, initialised
 * once, its mutexes across fork(), and the signals of its threads.
 *
 * A child of fork() has one thread, the one that forked, and a copy of
 * every mutex as it was: one that another thread of the parent held then
 * stays locked for ever in the child, whose first call needing it hangs.
 * So the library holds its mutexes while a process forks (pthread_atfork:
 * the prepare handler takes them all, in one order, and both sides
 * release them), and calls sodium_init(), which takes libsodium's own
 * mutex on every call, only once.  Each of these mutexes is held only
 * briefly and never while another is taken, so the order is free.
 *
 * The threads the library starts for a while (a batch's hash chain, a
 * rebuild's decoding and loading) block every signal sent to the process
 * (SIGINT, SIGTERM, SIGPIPE, SIGUSR1...): it goes to one of the program's
 * own threads, as it would without the library's.  The signals of their
 * own faults (SIGBUS, SIGSEGV...) stay open to the program's handlers.
 */
#include <pthread.h>
#include <signal.h>

#include <sodium.h>

#include "internal.h"

static pthread_once_t proc_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;

static void fork_prepare(void)
{
	pthread_mutex_lock(&tl_open_mu);
	pthread_mutex_lock(&tl_zones_mu);
	pthread_mutex_lock(&tl_uuid_mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&tl_uuid_mu);
	pthread_mutex_unlock(&tl_zones_mu);
	pthread_mutex_unlock(&tl_open_mu);
}

static void fork_child(void)
{
	tl_uuid_forked(); /* before the parent's random bytes are reused */
	fork_parent();
}

static void proc_init(void)
{
	sodium_ok = sodium_init() >= 0;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

bool tl_proc_init(void)
{
	pthread_once(&proc_once, proc_init);
	return sodium_ok;
}

int tl_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, was;
	sigfillset(&all);
	/* The thread inherits the mask: every signal blocked in it but the
	 * ones its own faults raise (a page of the map gone under a read:
	 * SIGBUS), which must reach the program's handler; blocked, Linux
	 * would kill the process with them instead. */
	static const int faults[] = { SIGBUS, SIGSEGV, SIGFPE, SIGILL,
				      SIGTRAP, SIGSYS };
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		sigdelset(&all, faults[i]);
	if (pthread_sigmask(SIG_SETMASK, &all, &was))
		return -1;
	int rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	return rc;
}

/* Once when the library is loaded, before the program's threads can fork
 * while another one is inside the first sodium_init() (a child would
 * then run the once routine again and wait on libsodium's mutex for
 * ever); the calls above remain for a program whose loader skips it. */
__attribute__((constructor)) static void proc_load(void)
{
	tl_proc_init();
}
