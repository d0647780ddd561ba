/*
 * The MCP tools, resources and prompts against the reference server
 * @modelcontextprotocol/server-everything over stdio: the server's tools
 * called directly, the registry following the server's list_changed,
 * resources and prompts, and servers described by JSON. The registry side
 * (cog_mcp_define_tools, permissions, approvals, the audit log,
 * allowed_tools, naming, close) is in test_mcp_registry.c; pages, changing
 * lists and schemas, caps and broken results, with servers of our own, in
 * test_mcp_refresh.c. Public API only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"

START_TEST(test_list_tools)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = mcp_test_parse(json);
	static const char *const wanted[] = { "echo", "get-sum",
		"get-structured-content", "trigger-long-running-operation" };
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		ck_assert_msg(mcp_test_find_named(tools, "name", wanted[i]), "no tool %s in %s",
		              wanted[i], json);
	const cJSON *echo = mcp_test_find_named(tools, "name", "echo");
	const char *draft = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(echo, "inputSchema"), "$schema"));
	ck_assert_msg(draft && strstr(draft, "draft-07"), "echo's schema: %s", json);
	cJSON_Delete(tools);
	cog_free(json);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_call_direct)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	char *json = NULL;

	ck_assert_cog(cog_mcp_call_tool(m, "echo", "{\"message\":\"hello mcp\"}", 0, &json));
	cJSON *r = mcp_test_parse(json);
	ck_assert_msg(strstr(mcp_test_result_text(r), "hello mcp"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	ck_assert_cog(cog_mcp_call_tool(m, "get-sum", "{\"a\":2,\"b\":40}", 0, &json));
	r = mcp_test_parse(json);
	ck_assert_msg(strstr(mcp_test_result_text(r), "42"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	/* structuredContent, checked against the tool's outputSchema. */
	ck_assert_cog(cog_mcp_call_tool(m, "get-structured-content",
	                                "{\"location\":\"Chicago\"}", 0, &json));
	r = mcp_test_parse(json);
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
	ck_assert_msg(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sc, "temperature")),
	              "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	/* Progress of a long-running operation reaches the event hook. */
	ck_assert_cog(cog_mcp_call_tool(m, "trigger-long-running-operation",
	                                "{\"duration\":2,\"steps\":4}", 0, &json));
	ck_assert_msg(strstr(json, "completed") || strstr(json, "Long running"), "%s", json);
	cog_free(json);
	ck_assert(mcp_test_log_wait(log, "mcp.progress", 5000));

	/* The server's isError: COG_EUSER, the result still handed back. */
	int rc = cog_mcp_call_tool(m, "get-sum", "{\"a\":\"x\"}", 0, &json);
	ck_assert_int_eq(rc, COG_EUSER);
	ck_assert_ptr_nonnull(json);
	r = mcp_test_parse(json);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError")));
	ck_assert_msg(strlen(cog_error_last()) > 0 &&
	              strstr(mcp_test_result_text(r), cog_error_last()) == mcp_test_result_text(r),
	              "message \"%s\" is not the text of %s", cog_error_last(), json);
	cJSON_Delete(r);
	cog_free(json);

	/* Arguments that are not an object never reach the server. */
	ck_assert_int_eq(cog_mcp_call_tool(m, "echo", "[1]", 0, &json), COG_EINVAL);
	ck_assert_ptr_null(json);
	ck_assert_int_eq(cog_mcp_call_tool(m, "echo", "{", 0, &json), COG_EINVAL);

	/* An unknown tool: the server says so (isError or a JSON-RPC error). */
	rc = cog_mcp_call_tool(m, "no-such-tool", "{}", 0, &json);
	ck_assert_msg(rc == COG_EUSER || rc == COG_ERROR, "%d: %s", rc, cog_error_last());
	cog_free(json);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* Whether the registry holds exactly the server's tools under "ev__". */
static bool registry_matches_server(cog_ctx *ctx, cog_mcp *m)
{
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = mcp_test_parse(json);
	cog_free(json);
	cJSON *list = mcp_test_registry(ctx, "ev__*");
	bool same = cJSON_GetArraySize(tools) == cJSON_GetArraySize(list);
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		char name[128];
		snprintf(name, sizeof(name), "ev__%s",
		         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name")));
		same = same && mcp_test_find_named(list, "name", name) != NULL;
	}
	cJSON_Delete(tools);
	cJSON_Delete(list);
	return same;
}

START_TEST(test_refresh)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	/* Define at once: server-everything registers more tools after
	 * notifications/initialized and says so with tools/list_changed. */
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	/* The tool it adds after initialize ends up defined, either in the
	 * first list or through the refresh. */
	bool found = false;
	for (int i = 0; i < 300 && !found; i++) {
		cJSON *list = mcp_test_registry(ctx, "ev__simulate-research-query");
		found = cJSON_GetArraySize(list) == 1;
		cJSON_Delete(list);
		if (!found)
			mcp_test_log_wait(log, "tools refreshed", 100);
	}
	ck_assert_msg(found, "ev__simulate-research-query never defined");
	/* Once quiet, the registry is the server's list. */
	bool same = false;
	for (int i = 0; i < 50 && !same; i++) {
		same = registry_matches_server(ctx, m);
		if (!same)
			mcp_test_log_wait(log, "tools refreshed: never", 100);
	}
	ck_assert(same);
	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "ev__echo", "{\"message\":\"after\"}", NULL, &json));
	cog_free(json);
	cog_mcp_close(m);
	cJSON *list = mcp_test_registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(test_resources_prompts)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_resources(m, &json));
	cJSON *res = mcp_test_parse(json);
	cog_free(json);
	ck_assert_int_gt(cJSON_GetArraySize(res), 0);
	const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(res, 0), "uri"));
	ck_assert_ptr_nonnull(uri);
	ck_assert_cog(cog_mcp_read_resource(m, uri, &json));
	cJSON *read = mcp_test_parse(json);
	const cJSON *contents = cJSON_GetObjectItemCaseSensitive(read, "contents");
	ck_assert_int_gt(cJSON_GetArraySize(contents), 0);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(contents, 0), "uri")), uri);
	cJSON_Delete(read);
	cog_free(json);
	cJSON_Delete(res);
	ck_assert_int_ne(cog_mcp_read_resource(m, "demo://no/such/thing", &json), 0);
	ck_assert_ptr_null(json);
	ck_assert_int_eq(cog_mcp_read_resource(m, "", &json), COG_EINVAL);

	ck_assert_cog(cog_mcp_list_prompts(m, &json));
	cJSON *prompts = mcp_test_parse(json);
	ck_assert_msg(mcp_test_find_named(prompts, "name", "args-prompt"), "%s", json);
	cJSON_Delete(prompts);
	cog_free(json);
	ck_assert_cog(cog_mcp_get_prompt(m, "args-prompt",
	                                 "{\"city\":\"Paris\",\"state\":\"TX\"}", &json));
	ck_assert_msg(strstr(json, "Paris, TX"), "%s", json);
	cog_free(json);
	ck_assert_int_eq(cog_mcp_get_prompt(m, "args-prompt", "{\"city\":1}", &json),
	                 COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "city"), "%s", cog_error_last());
	ck_assert_int_eq(cog_mcp_get_prompt(m, "args-prompt", "[]", &json), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_get_prompt(m, "no-such-prompt", NULL, &json), COG_ERROR);
	ck_assert_ptr_null(json);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* cog_mcp_connect_json refuses config_json with COG_EINVAL naming `needle`. */
static void bad_config(cog_ctx *ctx, const char *config_json, const char *needle)
{
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect_json(&m, ctx, "cfg", config_json);
	ck_assert_msg(rc == COG_EINVAL, "%s -> %d", config_json, rc);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(cog_error_last(), needle), "%s: \"%s\" lacks \"%s\"",
	              config_json, cog_error_last(), needle);
}

START_TEST(test_connect_json)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	const char *const *argv = mcp_test_argv(MCP_EVERYTHING, NULL);
	char config[8192];
	snprintf(config, sizeof(config),
	         "{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"%s\"],"
	         "\"env\":{\"COG_TEST_X\":\"1\"},\"allowed_tools\":[\"echo\"],"
	         "\"timeout_ms\":20000,\"connect_timeout_ms\":20000,\"max_restarts\":0,"
	         "\"max_message_bytes\":1048576}", argv[0], argv[1], argv[2]);
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect_json(&m, ctx, "cfg", config));
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = mcp_test_parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(tools), 1);
	cJSON_Delete(tools);
	ck_assert_cog(cog_mcp_call_tool(m, "echo", "{\"message\":\"cfg\"}", 0, &json));
	cog_free(json);
	cog_mcp_close(m);

	bad_config(ctx, "{\"command\":\"node\",\"foo\":1}", "foo");
	bad_config(ctx, "{\"command\":\"node\",\"args\":\"x\"}", "args");
	bad_config(ctx, "{\"command\":\"node\",\"args\":[1]}", "args");
	bad_config(ctx, "{\"command\":7}", "command");
	bad_config(ctx, "{\"command\":\"node\",\"env\":{\"A\":1}}", "A");
	bad_config(ctx, "{\"command\":\"node\",\"timeout_ms\":-1}", "timeout_ms");
	bad_config(ctx, "{\"command\":\"node\",\"timeout_ms\":\"5\"}", "timeout_ms");
	bad_config(ctx, "{\"command\":\"node\",\"allowed_tools\":\"echo\"}", "allowed_tools");
	bad_config(ctx, "{\"command\":\"node\",\"url\":\"http://127.0.0.1:1/mcp\"}", "url");
	bad_config(ctx, "{\"type\":\"sse\",\"url\":\"http://127.0.0.1:1/mcp\"}", "sse");
	bad_config(ctx, "{\"type\":\"http\",\"command\":\"node\"}", "url");
	bad_config(ctx, "{\"url\":\"http://127.0.0.1:1/mcp\",\"headers\":[\"a\"]}", "headers");
	bad_config(ctx, "{\"url\":\"http://127.0.0.1:1/mcp\",\"args\":[]}", "args");
	unsetenv("COG_TEST_NO_SUCH_TOKEN");
	bad_config(ctx, "{\"url\":\"http://127.0.0.1:1/mcp\","
	           "\"bearer_token_env\":\"COG_TEST_NO_SUCH_TOKEN\"}", "COG_TEST_NO_SUCH_TOKEN");
	bad_config(ctx, "{}", "command");
	bad_config(ctx, "[]", "object");
	bad_config(ctx, "{\"command\":", "cfg");
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_connect_json_http)
{
	char url[256], config[1024];
	peer *p = mcp_test_start_http(url, sizeof(url));
	cog_ctx *ctx = mcp_test_ctx(NULL);
	setenv("COG_TEST_MCP_TOKEN", "not-checked-by-this-server", 1);
	snprintf(config, sizeof(config),
	         "{\"type\":\"streamable-http\",\"url\":\"%s\",\"headers\":"
	         "{\"X-Test\":\"1\"},\"bearer_token_env\":\"COG_TEST_MCP_TOKEN\","
	         "\"allowed_tools\":[\"get-sum\"]}", url);
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect_json(&m, ctx, "web", config));
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "web__get-sum", "{\"a\":20,\"b\":22}", NULL, &json));
	ck_assert_msg(strstr(json, "42"), "%s", json);
	cog_free(json);
	cJSON *list = mcp_test_registry(ctx, "web__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	peer_stop(p);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("mcp-tools");
	TCase *tc = tcase_create("everything");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_list_tools);
	tcase_add_test(tc, test_call_direct);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_resources_prompts);
	tcase_add_test(tc, test_connect_json);
	tcase_add_test(tc, test_connect_json_http);
	suite_add_tcase(suite, tc);
	return mcp_test_run(suite);
}
