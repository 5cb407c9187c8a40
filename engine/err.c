/*
 * err.c - error codes and the tl_err record.
 *
 * Every failing call returns a negative TL_E* code and, when the caller
 * passed a tl_err, also says which field was at fault and why.  The
 * library never prints, so this record is the only place a message goes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tasklog.h"

const char *tl_code_name(int code)
{
	switch (code) {
	case 0:
		return "ok";
	case TL_EINVALID:
		return "invalid";
	case TL_ENOTFOUND:
		return "not_found";
	case TL_ECONFLICT:
		return "conflict";
	case TL_EFORBIDDEN:
		return "forbidden";
	case TL_ESTORAGE:
		return "storage";
	case TL_EUNAVAILABLE:
		return "unavailable";
	case TL_EAGAIN:
		return "again";
	}
	return "unknown";
}

const char *tl_version(void)
{
	return TL_VERSION;
}

/* s[0..n) cut short by a copy: what ends in the middle of a UTF-8
 * character loses that character's bytes (an error's text is printed
 * in JSON, which holds UTF-8 alone; a fuzzing run met a field cut in a
 * character). */
static void utf8_cut(char *s, size_t n)
{
	size_t i = n, back = 0;
	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1
									: 0;
	if (back < need)
		s[i - 1] = '\0';
}

int tl_err_set(tl_err *err, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!err)
		return code;
	/*
	 * -1 (no command): only the batch executors (tl_exec, tl_txn_exec,
	 * tl_log_import) know which command failed, and they set the index
	 * after the call that failed.  So a query's error never carries an
	 * index left over from an earlier batch.
	 */
	err->index = -1;
	err->code = code;
	for (n = 0; field && field[n] && n < sizeof(err->field) - 1; n++)
		err->field[n] = field[n];
	err->field[n] = '\0';
	if (field && field[n])
		utf8_cut(err->field, n);
	err->message[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		int m = vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
		if (m >= (int)sizeof(err->message))
			utf8_cut(err->message, sizeof(err->message) - 1);
	}
	return code;
}
