/*
 * The options of a context: their defaults by version
 * (cog_ctx_options_init), the checks cog_ctx_new makes of the caller's, and
 * the values a new context runs with. From the environment: env.c. The
 * context itself: ctx.c.
 */
#include <string.h>
#include <unistd.h>

#include "core_int.h"
#include "cognition/ctx.h"

/* Options struct size by version (see transport.c). */
static const size_t options_size[COG_CTX_OPTIONS_VERSION + 1] = {
	0, sizeof(cog_ctx_options)
};

int cog_ctx_options_init(cog_ctx_options *options, unsigned int version)
{
	if (!options)
		return cog__error(COG_EINVAL, "cog_ctx_options_init: options is NULL");
	if (version == 0 || version > COG_CTX_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"cog_ctx_options_init: version %u is not supported (1..%u)",
			version, COG_CTX_OPTIONS_VERSION);
	cog_ctx_options defaults = COG_CTX_OPTIONS_INIT;
	memcpy(options, &defaults, options_size[version]);
	options->version = version;
	return COG_OK;
}

static int check_options(const cog_ctx_options *o)
{
	static const char fn[] = "cog_ctx_new";
	if (o->version == 0 || o->version > COG_CTX_OPTIONS_VERSION)
		return cog__error(COG_EVERSION,
			"%s: options version %u is not supported (1..%u); "
			"use cog_ctx_options_init()", fn, o->version, COG_CTX_OPTIONS_VERSION);
	if (o->log_level < COG_LOG_TRACE || o->log_level > COG_LOG_OFF)
		return cog__error(COG_EINVAL, "%s: log_level %d is not a cog_log_level (0..5)",
			fn, o->log_level);
	if (o->worker_threads > 256)
		return cog__error(COG_EINVAL, "%s: worker_threads %u is over 256",
			fn, o->worker_threads);
	return COG_OK;
}

/* The options a new context runs with (see core_int.h). */
int cog__ctx_options_resolve(cog_ctx_options *out, const cog_ctx_options *options)
{
	cog_ctx_options opts = COG_CTX_OPTIONS_INIT;
	if (options) {
		int rc = check_options(options);
		if (rc)
			return rc;
		/* Members past the caller's version keep their defaults. */
		memcpy(&opts, options, options_size[options->version]);
	}
	if (opts.worker_threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		opts.worker_threads = n < 1 ? 1 : n > 256 ? 256 : (unsigned int)n;
	}
	if (opts.http_timeout_ms == 0)
		opts.http_timeout_ms = 30000;
	*out = opts;
	return COG_OK;
}
