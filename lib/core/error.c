/* Status texts and the thread-local "last error" message. */
#include <stdio.h>
#include <string.h>

#include "core_int.h"

#define COG_ERROR_MAX 1024

/* Static storage: recording an error must never allocate (it reports
 * allocation failures too). */
static _Thread_local struct {
	int code;
	char message[COG_ERROR_MAX];
} last_error;

const char *cog_strerror(int code)
{
	switch (code) {
	case COG_OK: return "success";
	case COG_ERROR: return "failure";
	case COG_EINVAL: return "invalid argument";
	case COG_ENOMEM: return "out of memory";
	case COG_EIO: return "input/output error";
	case COG_ETIMEOUT: return "timed out";
	case COG_ECANCELED: return "canceled";
	case COG_ENOTFOUND: return "not found";
	case COG_EDENIED: return "permission denied";
	case COG_EBUDGET: return "budget exceeded";
	case COG_ECYCLE: return "dependency cycle";
	case COG_EPROTO: return "protocol error";
	case COG_ESCHEMA: return "schema violation";
	case COG_EUNAVAILABLE: return "service unavailable";
	case COG_EUSER: return "callback failed";
	case COG_EVERSION: return "unsupported version";
	case COG_EEXISTS: return "already exists";
	case COG_EBUSY: return "busy";
	case COG_ERANGE: return "out of range";
	case COG_EUNCERTAIN: return "outcome uncertain";
	case COG_EPENDING: return "waiting for a decision";
	case COG_EINTEGRITY: return "integrity check failed";
	default: return "unknown status";
	}
}

const char *cog_error_last(void)
{
	return last_error.code == COG_OK ? "no error" : last_error.message;
}

int cog_error_last_code(void)
{
	return last_error.code;
}

void cog_error_clear(void)
{
	last_error.code = COG_OK;
	last_error.message[0] = '\0';
}

int cog__verror(int code, const char *fmt, va_list ap)
{
	if (code == COG_OK)
		code = COG_ERROR;
	last_error.code = code;
	int n = fmt ? vsnprintf(last_error.message, COG_ERROR_MAX, fmt, ap) : -1;
	if (n <= 0)
		snprintf(last_error.message, COG_ERROR_MAX, "%s", cog_strerror(code));
	return code;
}

int cog__error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	code = cog__verror(code, fmt, ap);
	va_end(ap);
	return code;
}

int cog_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	code = cog__verror(code, fmt, ap);
	va_end(ap);
	return code;
}

int cog__error_wrap(int code, const char *fmt, ...)
{
	char prefix[COG_ERROR_MAX];
	char inner[COG_ERROR_MAX];
	va_list ap;

	/* Keep the inner detail only if it belongs to this failure. */
	if (last_error.code != COG_OK)
		memcpy(inner, last_error.message, sizeof(inner));
	else
		snprintf(inner, sizeof(inner), "%s", cog_strerror(code));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	return cog__error(code, "%s: %s", prefix, inner);
}

int cog__oom(const char *where)
{
	return cog__error(COG_ENOMEM, "%s: out of memory", where);
}
