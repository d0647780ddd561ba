/*
 * A minimal libcognition host: a context with SQLite storage in
 * ./cognition.db (or argv[1]), one document stored and read back, the
 * library's log lines printed to stderr.
 */
#include <stdio.h>
#include <string.h>

#include <cognition.h>
#include <cognition/sqlite.h>

static void print_log(int level, const char *line, void *user_data)
{
	(void)level;
	(void)user_data;
	fprintf(stderr, "%s\n", line);
}

static int fail(cog_ctx *ctx, const char *what)
{
	fprintf(stderr, "minimal-host: %s: %s (%s)\n", what, cog_error_last(),
		cog_strerror(cog_error_last_code()));
	cog_ctx_free(ctx);
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "./cognition.db";
	cog_ctx_options options = COG_CTX_OPTIONS_INIT;
	cog_ctx *ctx = NULL;
	cog_storage *storage = NULL;
	char *json = NULL;

	options.log_fn = print_log;
	if (cog_ctx_options_from_env(&options) != 0)
		return fail(NULL, "configuration");
	if (cog_ctx_new(&ctx, &options) != 0)
		return fail(NULL, "cog_ctx_new");
	if (cog_sqlite_storage_open(&storage, path, NULL) != 0)
		return fail(ctx, "opening the database");
	cog_ctx_set_storage(ctx, storage); /* the context owns it now */

	const char *doc = "{\"goal\":\"say hello\",\"status\":\"stored\"}";
	if (cog_storage_put(cog_ctx_storage(ctx), "examples", "hello", doc, 0) != 0)
		return fail(ctx, "storing the document");
	if (cog_storage_get(cog_ctx_storage(ctx), "examples", "hello", &json) != 0)
		return fail(ctx, "reading the document back");
	cog_ctx_log(ctx, COG_LOG_INFO, "document read back", "{\"collection\":\"examples\"}");
	int same = strcmp(json, doc) == 0;
	printf("stored and read back from %s: %s\n", path, json);
	cog_free(json);
	cog_ctx_free(ctx);
	return same ? 0 : 1;
}
