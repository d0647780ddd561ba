/* Context options from COG_* environment variables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core_int.h"
#include "cognition/ctx.h"

static int env_uint(const char *name, unsigned long min, unsigned long max,
                    bool *present, unsigned long *value)
{
	const char *text = getenv(name);
	*present = text && *text;
	if (!*present)
		return COG_OK;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || text[0] == '-' || text[0] == '+' || v < min || v > max)
		return cog__error(COG_EINVAL,
			"environment variable %s='%.64s': expected a whole number from %lu to %lu",
			name, text, min, max);
	*value = v;
	return COG_OK;
}

static int env_log_level(bool *present, int *level)
{
	const char *text = getenv("COG_LOG_LEVEL");
	*present = text && *text;
	if (!*present)
		return COG_OK;
	for (int l = COG_LOG_TRACE; l <= COG_LOG_OFF; l++) {
		if (strcasecmp(text, cog__log_level_name(l)) == 0) {
			*level = l;
			return COG_OK;
		}
	}
	return cog__error(COG_EINVAL,
		"environment variable COG_LOG_LEVEL='%.64s': expected one of trace, "
		"debug, info, warn, error, off", text);
}

int cog_ctx_options_from_env(cog_ctx_options *options)
{
	if (!options)
		return cog__error(COG_EINVAL, "cog_ctx_options_from_env: options is NULL");
	if (options->version == 0 || options->version > COG_CTX_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_ctx_options_from_env: options version %u is not supported (1..%u)",
			options->version, COG_CTX_OPTIONS_VERSION);
	/* Read everything first so that a bad variable changes nothing. */
	bool has_level, has_workers, has_timeout;
	int level = 0;
	unsigned long workers = 0, timeout = 0;
	int rc = env_log_level(&has_level, &level);
	if (!rc)
		rc = env_uint("COG_WORKERS", 1, 256, &has_workers, &workers);
	if (!rc)
		rc = env_uint("COG_HTTP_TIMEOUT_MS", 1, 86400000, &has_timeout, &timeout);
	if (rc)
		return rc;
	if (has_level)
		options->log_level = level;
	if (has_workers)
		options->worker_threads = (unsigned int)workers;
	if (has_timeout)
		options->http_timeout_ms = (unsigned int)timeout;
	return COG_OK;
}
