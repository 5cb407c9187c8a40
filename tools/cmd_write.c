/*
 * cmd_write.c - the commands that write: init, and the task and member
 * commands, each one durable transaction whose result is printed only
 * once it is whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "membuf.h"
#include "progress.h"
#include "tasklog_projections.h"
#include "tasklog_view.h"

/* ---- init -------------------------------------------------------------- */

int run_init(struct cli *c)
{
	tl_init_opts io = {
		.tz = c->val[O_TZ],
		.week_start = c->val[O_WEEK_START],
		.admin = c->val[O_ADMIN],
		.now_ms = c->ctx.now_ms,
	};
	const char *week;
	int rc;

	rc = tl_db_init(c->db, &io, &c->err);
	if (rc)
		return rc;
	done_durably = true;
	rc = tl_db_settings(c->db, &c->settings, &c->err);
	if (rc)
		return rc;
	week = c->settings.week_start ? "monday" : "sunday";
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "db", mpjson_string(c->dir,
							   strlen(c->dir)));
		json_object_set_new(o, "tz", json_string(c->settings.tz));
		json_object_set_new(o, "week_start", json_string(week));
		json_object_set_new(o, "admin",
				    json_string(c->settings.admin));
		mpjson_print(stdout, o);
		json_decref(o);
	} else {
		fputs("initialised ", stdout);
		put_clean(stdout, c->dir); /* any bytes: escaped */
		printf(": time zone %s, weeks start on %s, admin %s\n",
		       c->settings.tz, week, c->settings.admin);
	}
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

/* What a write prints, made into memory (*out, malloc'd; *len bytes)
 * while its transaction is still open: once the commit has made the
 * event durable nothing may fail, since a command that fails must have
 * appended nothing. */
static int render_result(struct cli *c, const tl_result *res,
			 void (*human)(const json_t *), char **out,
			 size_t *len)
{
	json_t *v = NULL;
	*out = NULL;
	*len = 0;
	if (res->doc) {
		if (!(v = doc_json(res->doc, res->doc_len)))
			return collect_failed(c);
	} else if (c->json) {
		if (!(v = json_pack("{s:I,s:b}", "seq", (json_int_t)res->seq,
				    "appended", res->appended)))
			return cli_oom(c);
	} else {
		return 0; /* nothing to print */
	}
	bool ok;
	if (c->json) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		size_t n = s ? strlen(s) : 0;
		char *t = s ? realloc(s, n + 2) : NULL;
		ok = t != NULL;
		if (ok) {
			memcpy(t + n, "\n", 2);
			*out = t;
			*len = n + 1;
		} else {
			free(s);
		}
	} else {
		/* The human printers write to stdout: point it at memory for
		 * the time (glibc's stdout is an assignable variable). */
		membuf m;
		FILE *real = stdout, *f = membuf_open(&m);
		if (f) {
			stdout = f;
			human(v);
			stdout = real;
		}
		ok = membuf_close(f, &m);
		*out = m.p;
		*len = m.len;
	}
	json_decref(v);
	if (ok && (mpjson_nomem() || membuf_nomem())) { /* v may be short */
		free(*out);
		*out = NULL;
		*len = 0;
		ok = false;
	}
	return ok ? 0 : cli_oom(c);
}

/* A map that stayed full though it grew at each try. */
static int map_full(struct cli *c)
{
	return tl_err_set(&c->err, TL_ESTORAGE, "storage",
			  "map full, grown %d times", EAGAIN_RETRIES);
}

/* Run one request in its own transaction; print its result once it is
 * durable. */
int exec_one(struct cli *c, tl_cmd *cmd, void (*human)(const json_t *))
{
	int rc;

	if (has(c, O_EXPECT_VERSION)) {
		cmd->has_expect_version = true;
		cmd->expect_version = c->expect_version;
	}
	cmd->idempotency_key = opt_slice(c, O_IDEMPOTENCY_KEY);
	for (int tries = 1;; tries++) {
		tl_result res = { 0 };
		tl_txn *t;
		char *out;
		size_t len;
		if ((rc = tl_txn_begin(c->db, &t, &c->err)))
			return rc;
		rc = tl_txn_exec(t, &c->ctx, cmd, 1, &res, &c->err);
		if (rc == TL_EAGAIN) {
			/* The map is full: commit ends the transaction
			 * (nothing of it is kept) and grows the map, or
			 * says why it cannot. */
			rc = tl_txn_commit(t, &c->err);
			if (rc == TL_EAGAIN && tries < EAGAIN_RETRIES)
				continue;
			return rc && rc != TL_EAGAIN ? rc : map_full(c);
		}
		if (rc) {
			tl_txn_abort(t);
			return rc;
		}
		rc = render_result(c, &res, human, &out, &len);
		tl_result_release(&res);
		if (rc) {
			tl_txn_abort(t);
			return rc;
		}
		rc = tl_txn_commit(t, &c->err); /* grows the map when full */
		if (rc) {
			free(out);
			if (rc == TL_EAGAIN && tries < EAGAIN_RETRIES)
				continue;
			return rc == TL_EAGAIN ? map_full(c) : rc;
		}
		/* Durable now: straight out, past main's buffer, whose
		 * growth could fail.  What fails from here on is not the
		 * command's: it is said, and the exit status stays 0. */
		done_durably = true;
		if (len && !stdout_open)
			say_done_anyway("the standard output is closed");
		else if (len && (fwrite(out, 1, len, real_stdout) != len ||
				 fflush(real_stdout)))
			say_done_anyway(strerror(errno));
		free(out);
		return 0;
	}
}

int run_task_write(struct cli *c)
{
	tl_cmd cmd = { .kind = c->cmd->kind };
	tl_slice *tags = NULL;
	int rc;

	cmd.title = opt_slice(c, O_TITLE);
	cmd.type = opt_slice(c, O_TYPE);
	cmd.status = opt_slice(c, O_STATUS);
	cmd.notes = opt_slice(c, O_NOTES);
	cmd.link = opt_slice(c, O_LINK);
	cmd.due = opt_slice(c, O_DUE);
	cmd.assignee = opt_slice(c, O_ASSIGNEE);
	cmd.pipeline = opt_slice(c, O_PIPELINE);
	cmd.stage = opt_slice(c, O_STAGE);
	cmd.no_due = has(c, O_NO_DUE);
	cmd.unassign = has(c, O_UNASSIGN);

	if (cmd.kind == TL_TASK_ADD) {
		cmd.id = opt_slice(c, O_ID);
	} else {
		cmd.id = tl_s(c->words[0]);
	}
	switch (cmd.kind) {
	case TL_TASK_ADD:
		if (c->tags_len) {
			if (!(tags = tag_slices(c)))
				return cli_oom(c);
			cmd.tags = tags;
			cmd.tags_len = c->tags_len;
		}
		break;
	case TL_TASK_UPDATE:
		if (cmd.no_due && cmd.due.p)
			return usage_error(c, "due",
					   "--no-due and --due cannot be given "
					   "together");
		break;
	case TL_TASK_ASSIGN:
		if (cmd.unassign && c->words_len == 2)
			return usage_error(c, "assignee",
					   "--unassign and a MEMBER cannot be "
					   "given together");
		if (!cmd.unassign && c->words_len < 2)
			return usage_error(c, "assignee",
					   "missing MEMBER (or --unassign)");
		if (c->words_len == 2)
			cmd.assignee = tl_s(c->words[1]);
		break;
	case TL_TASK_STATUS:
		cmd.status = tl_s(c->words[1]);
		break;
	case TL_TASK_TAG:
	case TL_TASK_UNTAG:
		tags = calloc(1, sizeof *tags);
		if (!tags)
			return cli_oom(c);
		tags[0] = tl_s(c->words[1]);
		cmd.tags = tags;
		cmd.tags_len = 1;
		break;
	default:
		break;
	}
	rc = exec_one(c, &cmd, human_task);
	free(tags);
	return rc;
}

int run_member_write(struct cli *c)
{
	tl_cmd cmd = { .kind = c->cmd->kind };

	if (has(c, O_CRM_ACCESS) && has(c, O_NO_CRM_ACCESS))
		return usage_error(c, "crm_access",
				   "--crm-access and --no-crm-access "
				   "cannot be given together");
	cmd.id = tl_s(c->words[0]);
	cmd.name = opt_slice(c, O_NAME);
	cmd.role = opt_slice(c, O_ROLE);
	if (has(c, O_NO_CRM_ACCESS))
		cmd.crm_access = -1;
	else if (has(c, O_CRM_ACCESS) || cmd.kind == TL_MEMBER_ADD)
		cmd.crm_access = 1;
	return exec_one(c, &cmd, human_member);
}

/* member token ID [--revoke]: the token printed once it is durable (it
 * is shown this once: the workspace keeps its hash alone).  A token that
 * cannot be printed is of no use to anyone: it is revoked again and the
 * command fails, exit 5 (a review: "done, but..." and exit 0 left a
 * script holding no token and the member's last one gone). */
int run_member_token(struct cli *c)
{
	char token[TL_TOKEN_LEN + 1] = "", line[256];
	bool revoke = has(c, O_REVOKE), had = false;
	const char *id = c->words[0];
	int rc = tl_member_token(c->db, &c->ctx, tl_s(id), revoke,
				 revoke ? NULL : token, &had, &c->err);
	if (rc)
		return rc;
	/* a revocation is done whatever is printed; a token is not */
	done_durably = revoke;
	/* (an id is [a-z0-9._-]: nothing to escape in JSON) */
	int n;
	if (revoke && c->json)
		n = snprintf(line, sizeof line,
			     "{\"member\":\"%s\",\"revoked\":%s}\n", id,
			     had ? "true" : "false");
	else if (revoke)
		n = snprintf(line, sizeof line, "%s\n",
			     had ? "token revoked" : "no token to revoke");
	else if (c->json)
		n = snprintf(line, sizeof line,
			     "{\"member\":\"%s\",\"token\":\"%s\"}\n", id,
			     token);
	else
		n = snprintf(line, sizeof line, "%s\n", token);
	sodium_memzero(token, sizeof token);
	const char *why = NULL;
	if (!stdout_open)
		why = "the standard output is closed";
	else if (fwrite(line, 1, (size_t)n, real_stdout) != (size_t)n ||
		 fflush(real_stdout))
		why = strerror(errno);
	sodium_memzero(line, sizeof line);
	if (why && revoke) {
		say_done_anyway(why);
	} else if (why) {
		tl_err e = { 0 };
		stdout_failed = true; /* said here, once */
		bool gone = !tl_member_token(c->db, &c->ctx, tl_s(id), true,
					     NULL, NULL, &e);
		return tl_err_set(&c->err, TL_ESTORAGE, "stdout",
				  "the new token of '%s' could not be printed "
				  "(%s): %s",
				  id, why,
				  gone ? "revoked again; make another"
				       : "and revoking it failed: run member "
					 "token --revoke");
	}
	if (!revoke && !c->json && isatty(STDERR_FILENO))
		fprintf(stderr, "tasklog: the token of '%s' is shown this "
				"once; a new one replaces it\n", id);
	return 0;
}
