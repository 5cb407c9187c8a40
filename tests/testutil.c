/*
 * testutil.c - temporary workspaces and running the real binary (see
 * testutil.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include <criterion/criterion.h>
#include <msgpack.h>

#include "tasklog_projections.h"
#include "tasklog.h"
#include "tasklog_view.h"
#include "testutil.h"

#define TU_ARGS_MAX 2048

const char *tu_bin(void)
{
	const char *b = getenv("TASKLOG_BIN");
	return b && b[0] ? b : "build/tasklog";
}

char *tu_tmpdir(void)
{
	char *p = strdup("/tmp/tasklog-e2e-XXXXXX");

	if (!p || !mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void tu_write_tasks(const char *path, int n, size_t notes, const char *title)
{
	FILE *f = fopen(path, "w");
	char *text = malloc(notes + 1);
	cr_assert(f && text, "%s", path);
	memset(text, 'n', notes);
	text[notes] = 0;
	for (int i = 0; i < n; i++)
		fprintf(f, "{\"title\":\"%s %d\",\"link\":\"lead:%d\","
			   "\"notes\":\"%s\"}\n", title, i, i % 7, text);
	free(text);
	cr_assert_eq(fclose(f), 0, "%s", path);
}

int tu_spawn(const char *const argv[], int sig, const char *err_path)
{
	const char *w[32] = { "tasklog" };
	size_t n = 1;
	for (; argv[n - 1] && n < 31; n++)
		w[n] = argv[n - 1];
	w[n] = NULL;
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int dn = open("/dev/null", O_WRONLY);
		int ef = err_path ? open(err_path, O_WRONLY | O_CREAT |
							   O_TRUNC, 0600)
				  : dn;
		dup2(dn, 1);
		dup2(ef, 2);
		signal(sig, SIG_DFL);
		execv(tu_bin(), (char *const *)w);
		_exit(127);
	}
	return pid;
}

int tu_rmrf(const char *path)
{
	if (!path)
		return 0;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Append n bytes from fd to *buf (size *len, NUL kept at the end).
 * Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t slurp(int fd, char **buf, size_t *len)
{
	char chunk[65536];
	ssize_t n = read(fd, chunk, sizeof chunk);
	char *nb;

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : n;
	nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return -1;
	memcpy(nb + *len, chunk, (size_t)n);
	*len += (size_t)n;
	nb[*len] = 0;
	*buf = nb;
	return n;
}

static void child(const tu_opts *opts, const char *const argv[], int out,
		  int err)
{
	if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (opts && opts->stdin_file) {
		int in = open(opts->stdin_file, O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0)
			_exit(126);
		close(in);
	}
	if (opts && opts->cwd && chdir(opts->cwd))
		_exit(126);
	if (opts && opts->uid &&
	    (setgroups(0, NULL) || setgid(opts->uid) || setuid(opts->uid)))
		_exit(126);
	if (opts && opts->nofile &&
	    setrlimit(RLIMIT_NOFILE,
		      &(struct rlimit){ opts->nofile, opts->nofile }))
		_exit(126);
	if (opts && opts->fsize &&
	    (signal(SIGXFSZ, SIG_DFL) == SIG_ERR ||
	     setrlimit(RLIMIT_FSIZE,
		       &(struct rlimit){ (rlim_t)opts->fsize,
					 (rlim_t)opts->fsize })))
		_exit(126);
	unsetenv("COLUMNS"); /* tables 80 wide unless a test says */
	/* Under the sanitizers (make test-san): the binary's own leaks end
	 * it with an exit status of its own, which the test then sees as a
	 * failure (run.sh's exitcode=0 is for the test runner, whose
	 * children's reports went unseen in the stderr the tests capture). */
	const char *lsan = getenv("TL_CLI_LSAN_OPTIONS");
	if (lsan && *lsan)
		setenv("LSAN_OPTIONS", lsan, 1);
	for (const char *const *e = opts ? opts->env : NULL; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq) {
			char name[128];
			snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
			setenv(name, eq + 1, 1);
		} else {
			unsetenv(*e);
		}
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

int tu_exec(tu_run *r, const tu_opts *opts, const char *const argv[])
{
	const char *full[TU_ARGS_MAX + 2];
	int po[2], pe[2], st;
	size_t n = 0;
	pid_t pid;

	memset(r, 0, sizeof *r);
	/* Absolute, so that opts->cwd does not lose it. */
	const char *path = opts && opts->bin ? opts->bin : tu_bin();
	char *bin = realpath(path, NULL);
	full[n++] = bin ? bin : path;
	for (size_t i = 0; argv[i] && n <= TU_ARGS_MAX; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	r->out = calloc(1, 1);
	r->err = calloc(1, 1);
	if (!r->out || !r->err || pipe2(po, O_CLOEXEC) ||
	    pipe2(pe, O_CLOEXEC)) {
		free(bin);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		free(bin);
		return -1;
	}
	if (pid == 0)
		child(opts, full, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);

	/* Drain both pipes together: a full one would block the child. */
	struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t k = i == 0 ? slurp(fds[i].fd, &r->out, &r->out_len)
					   : slurp(fds[i].fd, &r->err, &r->err_len);
			if (k <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	free(bin);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->json = json_loadb(r->out, r->out_len, JSON_DECODE_ANY, NULL);
	return 0;
}

/* Run `--db DB [--json] WORDS...`; -1 when there are too many words. */
static int cli_words(tu_run *r, const char *db, bool json,
		     const char *const words[])
{
	const char *argv[TU_ARGS_MAX + 1];
	size_t n = 0;

	memset(r, 0, sizeof *r);
	argv[n++] = "--db";
	argv[n++] = db;
	if (json)
		argv[n++] = "--json";
	for (size_t i = 0; words[i]; i++) {
		if (n == TU_ARGS_MAX)
			return -1;
		argv[n++] = words[i];
	}
	argv[n] = NULL;
	return tu_exec(r, NULL, argv);
}

static int cli_va(tu_run *r, const char *db, bool json, va_list ap)
{
	const char *words[TU_ARGS_MAX + 1];
	size_t n = 0;
	const char *a;

	while ((a = va_arg(ap, const char *)) && n < TU_ARGS_MAX)
		words[n++] = a;
	words[n] = NULL;
	return cli_words(r, db, json, words);
}

int tu_cli_argv(tu_run *r, const char *db, const char *const words[])
{
	return cli_words(r, db, true, words);
}

char *tu_cli_id(const char *db, const char *const words[])
{
	tu_run r;
	cr_assert_eq(tu_cli_argv(&r, db, words), 0);
	cr_assert_eq(r.status, 0, "%s: %s", words[0], r.err);
	const char *id = tu_str(r.json, "id");
	cr_assert(id, "no id: %s", r.out);
	char *copy = strdup(id);
	cr_assert(copy);
	tu_run_release(&r);
	return copy;
}

int tu_cli(tu_run *r, const char *db, ...)
{
	va_list ap;
	int rc;

	va_start(ap, db);
	rc = cli_va(r, db, true, ap);
	va_end(ap);
	return rc;
}

int tu_cli_text(tu_run *r, const char *db, ...)
{
	va_list ap;
	int rc;

	va_start(ap, db);
	rc = cli_va(r, db, false, ap);
	va_end(ap);
	return rc;
}

void tu_run_release(tu_run *r)
{
	free(r->out);
	free(r->err);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

const char *tu_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

long long tu_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

bool tu_err_names(const tu_run *r, const char *word)
{
	const char *nl = strchr(r->err, '\n');

	return !strncmp(r->err, "tasklog: ", 9) && nl &&
	       nl[1] == 0 && strstr(r->err, word) != NULL;
}

long long tu_stat(const char *db, const char *key)
{
	tu_run r;
	long long n;

	cr_assert_eq(tu_cli(&r, db, "stats", NULL), 0, "cannot run %s",
		     tu_bin());
	cr_assert_eq(r.status, 0, "stats: exit %d\nstderr: %s", r.status,
		     r.err);
	cr_assert(r.json, "stats: stdout is not JSON: %s", r.out);
	n = tu_int(r.json, key);
	tu_run_release(&r);
	return n;
}

/* Terminal columns of a line of UTF-8 (wcwidth; see testutil.h). */
size_t tu_columns(const char *s, size_t n)
{
	static bool utf8;
	if (!utf8)
		utf8 = setlocale(LC_CTYPE, "C.UTF-8") != NULL;
	cr_assert(utf8, "no C.UTF-8 locale");
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s + i, n - i, &st);
		cr_assert(k != (size_t)-1 && k != (size_t)-2 && k != 0,
			  "not UTF-8 at byte %zu: %.*s", i, (int)n, s);
		int cw = wcwidth(wc);
		w += cw < 0 ? 1 : (size_t)cw;
		i += k;
	}
	return w;
}

int tu_check_width(const char *s)
{
	int lines = 0;
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		cr_assert_leq(tu_columns(p, n), 80, "line too wide: %.*s",
			      (int)n, p);
		lines++;
		p += n + (nl != NULL);
	}
	return lines;
}

void tu_load_records(const char *path, tu_records *r)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "open %s", path);
	r->buf = malloc(1 << 16);
	cr_assert(r->buf);
	size_t size = fread(r->buf, 1, 1 << 16, f);
	fclose(f);
	msgpack_zone zone;
	msgpack_zone_init(&zone, 4096);
	size_t off = 0;
	r->n = 0;
	while (off < size && r->n < 64) {
		msgpack_object o;
		size_t start = off;
		msgpack_unpack_return rc = msgpack_unpack(
			(const char *)r->buf, size, &off, &zone, &o);
		cr_assert(rc == MSGPACK_UNPACK_SUCCESS ||
			  rc == MSGPACK_UNPACK_EXTRA_BYTES, "%s: record %zu",
			  path, r->n);
		r->rec[r->n] = r->buf + start;
		r->len[r->n++] = off - start;
	}
	msgpack_zone_destroy(&zone);
}

/* ---- a writer in another process ---------------------------------------- */

/* Append batches of task.add until killed; a byte on ready after 20. */
static void writer(const char *dir, int ready)
{
	tl_open_opts oo = { 0 };
	tl_ctx ctx = { 0 };
	tl_cmd cmds[16];
	tl_err err;
	tl_db *db;
	char titles[16][32];

	alarm(60); /* in case the parent is gone */
	oo.views = tl_views_all(&oo.views_len);
	if (tl_db_open(dir, &oo, &db, &err))
		_exit(3);
	for (unsigned batch = 0;; batch++) {
		memset(cmds, 0, sizeof cmds);
		for (int i = 0; i < 16; i++) {
			snprintf(titles[i], sizeof titles[i], "w %u %d", batch,
				 i);
			cmds[i].kind = TL_TASK_ADD;
			cmds[i].title = tl_s(titles[i]);
			cmds[i].link = tl_s("lead:9");
		}
		int rc;
		do
			rc = tl_exec(db, &ctx, cmds, 16, NULL, &err);
		while (rc == TL_EAGAIN);
		if (rc)
			_exit(5);
		if (batch == 20 && write(ready, "r", 1) != 1)
			_exit(6);
	}
}

int tu_writer_start(const char *dir)
{
	int fds[2];
	char c;
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		writer(dir, fds[1]);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], &c, 1), 1, "the writer did not start");
	close(fds[0]);
	return pid;
}

void tu_writer_stop(int pid)
{
	int st;
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st), "the writer stopped by itself: %d", st);
}

const tl_view *tu_view(const char *name)
{
	size_t n;
	const tl_view *const *all = tl_views_all(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tl_view_name(all[i]), name))
			return all[i];
	return NULL;
}

const tl_view *const *tu_views_of_another_release(size_t *n)
{
	static tl_view tasks;
	static const tl_view *views[64];
	const tl_view *const *all = tl_views_all(n);
	cr_assert_leq(*n, 64);
	for (size_t i = 0; i < *n; i++) {
		views[i] = all[i];
		if (!strcmp(tl_view_name(all[i]), "tasks")) {
			tasks = *all[i];
			tasks.version++;
			views[i] = &tasks;
		}
	}
	return views;
}

static void tu_on_problem(void *arg, const char *text)
{
	tu_problems *p = arg;
	if (!p->n++)
		snprintf(p->first, sizeof p->first, "%s", text);
}

const char *tu_token_of(tl_db *db, const char *token)
{
	static char m[65];
	tl_err err = { 0 };
	int rc = tl_token_member(db, tl_s(token), m, &err);
	if (rc) {
		cr_assert_eq(rc, TL_EFORBIDDEN, "%d %s", rc, err.message);
		cr_assert_str_eq(err.field, "token");
		cr_assert_str_eq(m, "");
	}
	return m;
}

int tu_verify(tl_db *db, tu_problems *p)
{
	tl_err err = { 0 };
	memset(p, 0, sizeof *p);
	int rc = tl_verify(db, NULL, tu_on_problem, p, &err);
	cr_assert_geq(rc, 0, "tl_verify failed: %s: %s", err.field,
		      err.message);
	cr_assert_eq(rc, p->n, "tl_verify returned %d but reported %d", rc,
		     p->n);
	return rc;
}
