/*
 * Real MCP servers from npm as cog tools: @modelcontextprotocol/
 * server-filesystem (read and write inside its allowed folder; a path
 * outside comes back as isError and is surfaced as a tool error) and
 * server-memory (create and search entities, kept in its file). Over
 * stdio, through the registry. Public API only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"
#include "test_tmp.h"

/* A JSON object {"path":path,<extra>} as text (static buffer). */
static const char *path_args(const char *path, const char *extra)
{
	static char buf[2048];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	char *p = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	size_t len = strlen(p);
	if (extra)
		snprintf(buf, sizeof(buf), "%.*s,%s}", (int)(len - 1), p, extra);
	else
		snprintf(buf, sizeof(buf), "%s", p);
	free(p);
	return buf;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_filesystem)
{
	char folder[512];
	snprintf(folder, sizeof(folder), "%s", tmp_dir_make("cog-mcp-fs-"));
	char *real = realpath(folder, NULL);
	ck_assert_ptr_nonnull(real);
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "fs";
	o.argv = mcp_test_argv(MCP_FILESYSTEM, real);
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	char file[1024];
	snprintf(file, sizeof(file), "%s/note.txt", real);
	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "fs__write_file",
	                            path_args(file, "\"content\":\"written by cog\\n\""),
	                            NULL, &json));
	cog_free(json);
	char *on_disk = slurp(file);
	ck_assert_ptr_nonnull(on_disk);
	ck_assert_str_eq(on_disk, "written by cog\n");

	/* read_text_file has an outputSchema: structuredContent is checked. */
	ck_assert_cog(cog_tool_call(ctx, "fs__read_text_file", path_args(file, NULL),
	                            NULL, &json));
	cJSON *r = mcp_test_parse(json);
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
	ck_assert_str_eq(cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(sc, "content")), "written by cog\n");
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "isError"));
	cJSON_Delete(r);
	cog_free(json);

	/* Outside the allowed folder: the server's isError, a tool error
	 * whose message is the server's text. */
	int rc = cog_tool_call(ctx, "fs__read_text_file", path_args("/etc/hostname", NULL),
	                       NULL, &json);
	ck_assert_int_eq(rc, COG_EUSER);
	r = mcp_test_parse(json);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
	ck_assert_str_eq(cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(err, "type")), "tool_error");
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message"));
	ck_assert_msg(msg && strstr(msg, "outside allowed directories"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	/* The same directly: COG_EUSER, the result has isError. */
	rc = cog_mcp_call_tool(m, "read_text_file", path_args("/etc/hostname", NULL), 0,
	                       &json);
	ck_assert_int_eq(rc, COG_EUSER);
	ck_assert_msg(strstr(cog_error_last(), "outside allowed directories"), "%s",
	              cog_error_last());
	ck_assert_msg(strstr(json, "\"isError\":true"), "%s", json);
	cog_free(json);

	/* The audit log saw both outcomes. */
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	ck_assert_msg(strstr(json, "\"outcome\":\"tool_error\""), "%s", json);
	ck_assert_msg(strstr(json, "\"outcome\":\"ok\""), "%s", json);
	cog_free(json);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	free(real);
	tmp_dir_remove();
}
END_TEST

START_TEST(test_memory)
{
	const char *folder = tmp_dir_make("cog-mcp-mem-");
	char file[512], env[600];
	snprintf(file, sizeof(file), "%s/memory.jsonl", folder);
	snprintf(env, sizeof(env), "MEMORY_FILE_PATH=%s", file);
	const char *envp[] = { env, NULL };
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "mem";
	o.argv = mcp_test_argv(MCP_MEMORY, NULL);
	o.envp = envp;
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "mem__create_entities",
		"{\"entities\":[{\"name\":\"Ada Lovelace\",\"entityType\":\"person\","
		"\"observations\":[\"wrote the first program\"]},"
		"{\"name\":\"Analytical Engine\",\"entityType\":\"machine\","
		"\"observations\":[\"designed by Babbage\"]}]}", NULL, &json));
	ck_assert_msg(strstr(json, "Ada Lovelace"), "%s", json);
	cog_free(json);

	ck_assert_cog(cog_tool_call(ctx, "mem__search_nodes", "{\"query\":\"program\"}",
	                            NULL, &json));
	cJSON *r = mcp_test_parse(json);
	const cJSON *entities = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(r, "structuredContent"), "entities");
	ck_assert_int_eq(cJSON_GetArraySize(entities), 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(entities, 0), "name")), "Ada Lovelace");
	cJSON_Delete(r);
	cog_free(json);

	/* Bad arguments stop at our validator. */
	ck_assert_int_eq(cog_tool_call(ctx, "mem__create_entities", "{\"entities\":3}",
	                               NULL, &json), COG_ESCHEMA);
	cog_free(json);

	/* The server's file holds them. */
	const char *saved = slurp(file);
	ck_assert_msg(saved && strstr(saved, "Ada Lovelace") &&
	              strstr(saved, "Analytical Engine"), "%s", saved ? saved : "(none)");

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	tmp_dir_remove();
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("mcp-servers");
	TCase *tc = tcase_create("servers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_filesystem);
	tcase_add_test(tc, test_memory);
	suite_add_tcase(suite, tc);
	return mcp_test_run(suite);
}
