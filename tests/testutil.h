/*
 * testutil.h - helpers for the tests, mostly the end-to-end ones:
 * temporary workspaces, running the real `tasklog` binary, the Criterion
 * assertions the e2e_*.c files share, and the views of another release
 * (unit_procs.c, fault.c).
 *
 * The binary is $TASKLOG_BIN, else build/tasklog.  It is run with fork and
 * execv (no shell), so arguments reach it byte for byte, invalid UTF-8
 * included.
 */
#ifndef TL_TESTUTIL_H
#define TL_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct tl_view tl_view; /* tasklog.h's */

/* What one run of the binary gave. */
typedef struct tu_run {
	int status;   /* exit status; 128 + signal when killed */
	char *out;    /* stdout, NUL-terminated */
	size_t out_len;
	char *err;    /* stderr, NUL-terminated */
	size_t err_len;
	json_t *json; /* stdout parsed as JSON, or NULL */
} tu_run;

/* Extra settings for tu_exec: all-zero means none. */
typedef struct tu_opts {
	const char *cwd;         /* run in this directory */
	const char *const *env;  /* "NAME=value" pairs to set, NULL-ended;
				    "NAME" alone unsets NAME */
	const char *bin;         /* this binary instead of tu_bin() */
	unsigned uid;            /* > 0: run as this user and group (the
				    test runs as root) */
	unsigned nofile;         /* > 0: RLIMIT_NOFILE of the child */
	long long fsize;         /* > 0: RLIMIT_FSIZE of the child, bytes
				    (SIGXFSZ as the binary leaves it) */
	const char *stdin_file;  /* the child's standard input (else the
				    test's) */
} tu_opts;

/* Path of the binary under test. */
const char *tu_bin(void);

/* Make a fresh directory /tmp/tasklog-e2e-XXXXXX.  malloc'd path; aborts
 * the test on failure. */
char *tu_tmpdir(void);

/* Remove path and everything below it.  Returns 0 or -1. */
int tu_rmrf(const char *path);

/* n tasks as JSON Lines into path, for import: "TITLE i", linked to
 * lead:(i % 7), with notes of notes bytes.  Aborts the test on failure. */
void tu_write_tasks(const char *path, int n, size_t notes, const char *title);

/* The binary run with argv (NULL-ended, without the program name) in
 * the background, sig at its default action, its stdout on /dev/null
 * and its stderr into err_path (NULL: /dev/null): its pid. */
int tu_spawn(const char *const argv[], int sig, const char *err_path);

/* Run the binary with argv[] (NULL-ended, without the program name).
 * Returns 0 when it ran (r filled; release it with tu_run_release), -1 when
 * it could not be started. */
int tu_exec(tu_run *r, const tu_opts *opts, const char *const argv[]);

/* tu_exec with "--db DB --json" prepended to the NULL-ended words. */
int tu_cli(tu_run *r, const char *db, ...) __attribute__((sentinel));
/* The same without --json. */
int tu_cli_text(tu_run *r, const char *db, ...) __attribute__((sentinel));
/* tu_cli with the words in a NULL-ended array; -1 also when there are
 * too many of them. */
int tu_cli_argv(tu_run *r, const char *db, const char *const words[]);

void tu_run_release(tu_run *r);

/* Run a writing command's words (tu_cli_argv), assert it succeeded, and
 * return the "id" of the document it printed, malloc'd. */
char *tu_cli_id(const char *db, const char *const words[]);

/* The string member key of obj, or NULL. */
const char *tu_str(const json_t *obj, const char *key);
/* The integer member key of obj, or -1. */
long long tu_int(const json_t *obj, const char *key);
/* True when stderr is exactly one line "tasklog: ...\n" containing word. */
bool tu_err_names(const tu_run *r, const char *word);

/* ---- assertions (Criterion) ------------------------------------------- */

/* `tasklog --db DB --json stats` must succeed; its integer member key, or
 * -1 when it has none. */
long long tu_stat(const char *db, const char *key);

/* Terminal columns of s[0..n) (UTF-8): wide characters count two,
 * combining marks none (wcwidth in the C.UTF-8 locale). */
size_t tu_columns(const char *s, size_t n);

/* Every line of s must fit 80 terminal columns.  Returns the number of
 * lines. */
int tu_check_width(const char *s);

/*
 * Run commands in the workspace of the including test file, which keeps
 * its path in a variable named `ws`.  Each runs `tasklog --db ws --json
 * ARGS...` into the tu_run *r (release it with tu_run_release):
 *   CLI(r, ARGS...)           must start;
 *   EXPECT(r, code, ARGS...)  must exit with status code;
 *   OK(r, ARGS...)            must exit 0 and print JSON;
 *   DO(ARGS...)               OK, with the output discarded.
 */
#define CLI(r, ...)                                                        \
	cr_assert_eq(tu_cli((r), ws, __VA_ARGS__, NULL), 0,                 \
		     "cannot run %s", tu_bin())

#define EXPECT(r, code, ...)                                               \
	do {                                                               \
		CLI(r, __VA_ARGS__);                                       \
		cr_assert_eq((r)->status, (code),                          \
			     "exit %d, wanted %d\nstdout: %s\nstderr: %s", \
			     (r)->status, (code), (r)->out, (r)->err);     \
	} while (0)

#define OK(r, ...)                                                         \
	do {                                                               \
		EXPECT(r, 0, __VA_ARGS__);                                 \
		cr_assert((r)->json, "stdout is not JSON: %s", (r)->out);  \
	} while (0)

#define DO(...)                                                            \
	do {                                                               \
		tu_run r_;                                                 \
		OK(&r_, __VA_ARGS__);                                      \
		tu_run_release(&r_);                                       \
	} while (0)

/* Fork a process that appends batches of 16 task.add through the library
 * (every view, durable) to the workspace dir until stopped; returns its
 * pid once it has committed 20 batches.  Stop it with tu_writer_stop,
 * which kills it and asserts it was still running. */
int tu_writer_start(const char *dir);
void tu_writer_stop(int pid);

/* What verify reported: how many problems, and the first one's text. */
typedef struct tu_problems {
	int n;
	char first[400];
} tu_problems;

/* tl_verify of db (as its first admin), its problems into *p; asserts
 * that it ran and returned as many as it reported.  Returns that
 * number. */
typedef struct tl_db tl_db; /* tasklog.h's */
int tu_verify(tl_db *db, tu_problems *p);

/* The member a token names in db (a static buffer), or "" when it names
 * none: then asserts TL_EFORBIDDEN, field token. */
const char *tu_token_of(tl_db *db, const char *token);

/* The code's view NAME (of tl_views_all()), or NULL. */
const tl_view *tu_view(const char *name);

/* tl_views_all() as another release has them: the `tasks` view copied
 * with its version one past the code's; *n gets their number.  A
 * process opening a workspace with them rebuilds `tasks` in that
 * version. */
const tl_view *const *tu_views_of_another_release(size_t *n);

/* A stream of stored event records read from a fixture file (up to 64
 * records, 64 KiB): rec[i] and len[i] point into buf. */
typedef struct tu_records {
	uint8_t *buf;
	const uint8_t *rec[64];
	size_t len[64];
	size_t n;
} tu_records;

/* Read path and split it into records; aborts the test on failure.
 * Release with free(r->buf). */
void tu_load_records(const char *path, tu_records *r);

#endif
