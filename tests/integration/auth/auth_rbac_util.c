/*
 * The helpers of the auth-rbac tests (auth_rbac_test.h).
 */
#include "auth_rbac_test.h"

const char *db_path;

void rbac_setup(void)
{
	tmp_dir_make("cogrbac");
	static char path[4096];
	snprintf(path, sizeof(path), "%s", tmp_file("auth.db"));
	db_path = path;
}

void rbac_teardown(void)
{
	tmp_dir_remove();
}

cog_ctx *ctx_open(void)
{
	cog_ctx_options o = COG_CTX_OPTIONS_INIT;
	o.log_level = COG_LOG_OFF;
	cog_ctx *ctx = NULL;
	ck_assert_cog(cog_ctx_new(&ctx, &o));
	cog_sqlite_options so = COG_SQLITE_OPTIONS_INIT;
	so.busy_timeout_ms = 30000;
	cog_storage *st = NULL;
	ck_assert_cog(cog_sqlite_storage_open(&st, db_path, &so));
	ck_assert_cog(cog_ctx_set_storage(ctx, st));
	ck_assert_cog(cog_auth_configure(ctx, "{\"password\":{\"opslimit\":1,"
		"\"memlimit\":8192}}"));
	return ctx;
}

static int echo(const cog_tool_request *req, char **result, void *ud)
{
	(void)req;
	(void)ud;
	static const char text[] = "{\"ok\":true}";
	*result = cog_malloc(sizeof(text));
	if (!*result)
		return COG_ENOMEM;
	memcpy(*result, text, sizeof(text));
	return 0;
}

void define_tools(cog_ctx *ctx)
{
	static const char *const names[] = { "sql_read", "sql_write", "deploy_app", "fs_read" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cog_tool_options o = COG_TOOL_OPTIONS_INIT;
		o.name = names[i];
		o.fn = echo;
		ck_assert_cog(cog_tool_define(ctx, &o));
	}
}

int call_as(cog_ctx *ctx, const char *principal, const char *tool)
{
	cog_tool_call_options o = COG_TOOL_CALL_OPTIONS_INIT;
	o.principal = principal;
	char *result = NULL;
	int rc = cog_tool_call(ctx, tool, "{}", &o, &result);
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", cog_error_last());
	if (rc == 0)
		ck_assert_str_eq(result, "{\"ok\":true}");
	cog_free(result);
	if (rc)
		cog_error_set(rc, "%s", saved);
	return rc;
}
