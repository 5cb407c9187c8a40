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
	err->message[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}
