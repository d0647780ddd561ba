/*
 * The built-in tools through cog_tool_call(), on real files in a temporary
 * workspace, real libcurl against a loopback HTTP server, real SQLite files
 * and the real sandbox. This file holds the shared helpers
 * (test_builtins.h) and main(); the cases are in
 *   test_builtins_files.c   file_read, file_write, list_dir, definition
 *   test_builtins_http.c    http_fetch
 *   test_builtins_exec.c    python, shell
 *   test_builtins_sql.c     sql_query (libcognition-sqlite)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_builtins.h"

char tb_root[PATH_MAX];
char tb_ws[PATH_MAX];
char tb_out[PATH_MAX];
cog_ctx *tb_ctx;

void tb_path(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	ck_assert(n > 0 && n < PATH_MAX);
}

void tb_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	tb_path(path, dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

char *tb_read(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	FILE *f;
	char *data;
	long size;

	tb_path(path, dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)size;
	return data;
}

void tb_symlink(const char *target, const char *name_in_ws)
{
	char path[PATH_MAX];

	tb_path(path, tb_ws, name_in_ws);
	ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path,
	              strerror(errno));
}

void tb_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	int rc;

	snprintf(tb_root, sizeof(tb_root), "%s/cog-builtins-XXXXXX",
	         tmp != NULL ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tb_root));
	tb_path(tb_ws, tb_root, "ws");
	tb_path(tb_out, tb_root, "outside");
	ck_assert_int_eq(mkdir(tb_ws, 0700), 0);
	ck_assert_int_eq(mkdir(tb_out, 0700), 0);
	tb_write(tb_out, "secret", "outside secret", 14);
	rc = cog_ctx_new(&tb_ctx, NULL);
	ck_assert_msg(rc == 0, "cog_ctx_new: %s", cog_error_last());
	rc = cog_tool_define_builtins(tb_ctx, NULL);
	ck_assert_msg(rc == 0, "cog_tool_define_builtins: %s", cog_error_last());
}

void tb_teardown(void)
{
	char cmd[PATH_MAX + 16];

	cog_ctx_free(tb_ctx);
	tb_ctx = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tb_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tb_root);
}

int tb_call_in(cog_ctx *ctx, const char *tool, const char *args,
               const char *workspace, const char *hosts, char **result)
{
	cog_tool_call_options options = COG_TOOL_CALL_OPTIONS_INIT;

	options.workspace = workspace;
	options.allowed_hosts = hosts;
	*result = NULL;
	return cog_tool_call(ctx, tool, args, &options, result);
}

int tb_call(const char *tool, const char *args, const char *hosts, char **result)
{
	return tb_call_in(tb_ctx, tool, args, tb_ws, hosts, result);
}

cJSON *tb_ok_in(cog_ctx *ctx, const char *tool, const char *args,
                const char *hosts)
{
	char *result = NULL;
	int rc = tb_call_in(ctx, tool, args, tb_ws, hosts, &result);
	cJSON *parsed;

	ck_assert_msg(rc == 0, "%s %s: %d %s | %s", tool, args, rc,
	              cog_error_last(), result != NULL ? result : "(no result)");
	ck_assert_ptr_nonnull(result);
	parsed = cJSON_Parse(result);
	ck_assert_msg(parsed != NULL, "%s: result is not JSON: %s", tool, result);
	cog_free(result);
	return parsed;
}

cJSON *tb_ok(const char *tool, const char *args, const char *hosts)
{
	return tb_ok_in(tb_ctx, tool, args, hosts);
}

void tb_fails_in(cog_ctx *ctx, const char *tool, const char *args,
                 const char *workspace, const char *hosts, int status,
                 const char *type, const char *mention)
{
	char *result = NULL;
	int rc = tb_call_in(ctx, tool, args, workspace, hosts, &result);

	ck_assert_msg(rc == status, "%s %s: status %d (%s), expected %d; result %s",
	              tool, args, rc, cog_error_last(), status,
	              result != NULL ? result : "(none)");
	ck_assert_msg(result != NULL, "%s %s: no error object", tool, args);
	cJSON *parsed = cJSON_Parse(result);
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(parsed, "error");
	ck_assert_msg(cJSON_IsObject(error), "%s: not an error object: %s", tool,
	              result);
	const char *got_type = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(error, "type"));
	const char *message = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(error, "message"));
	ck_assert_msg(got_type != NULL && strcmp(got_type, type) == 0,
	              "%s %s: error type %s, expected %s (%s)", tool, args,
	              got_type != NULL ? got_type : "(none)", type, result);
	if (mention != NULL)
		ck_assert_msg(message != NULL && strstr(message, mention) != NULL,
		              "%s %s: message \"%s\" lacks \"%s\"", tool, args,
		              message != NULL ? message : "(none)", mention);
	cJSON_Delete(parsed);
	cog_free(result);
}

void tb_fails(const char *tool, const char *args, const char *hosts,
              int status, const char *type, const char *mention)
{
	tb_fails_in(tb_ctx, tool, args, tb_ws, hosts, status, type, mention);
}

const char *tb_str(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	ck_assert_msg(cJSON_IsString(item), "member %s is not a string", name);
	return item->valuestring;
}

double tb_num(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	ck_assert_msg(cJSON_IsNumber(item), "member %s is not a number", name);
	return item->valuedouble;
}

int tb_bool(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	ck_assert_msg(cJSON_IsBool(item), "member %s is not a boolean", name);
	return cJSON_IsTrue(item);
}

int main(void)
{
	static const char *const proxy_vars[] = {
		"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
		"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
	};
	Suite *suite = suite_create("builtins");
	SRunner *runner;
	int failed;

	/* The HTTP cases talk to 127.0.0.1 directly. */
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
		unsetenv(proxy_vars[i]);
	suite_add_tcase(suite, tb_define_tcase());
	suite_add_tcase(suite, tb_files_tcase());
#ifdef TB_HAVE_CURL
	suite_add_tcase(suite, tb_http_tcase());
#endif
	suite_add_tcase(suite, tb_exec_tcase());
#ifdef TB_HAVE_SQLITE
	suite_add_tcase(suite, tb_sql_tcase());
#endif
	runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
