/*
 * The MCP tools, resources and prompts against the reference server
 * @modelcontextprotocol/server-everything over stdio: the server's tools
 * called directly and as cog tools in the registry (schema validation,
 * permissions, approvals, the audit log, allowed_tools, refresh, close),
 * resources and prompts, and servers described by JSON. Public API only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s -> %d: %s", #expr, rc_, cog_error_last()); \
} while (0)

/* A connection to server-everything named "ev". */
static cog_mcp *connect_ev(cog_ctx *ctx, const char *allowed_tools)
{
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "ev";
	o.argv = mcp_test_argv(MCP_EVERYTHING, NULL);
	o.allowed_tools = allowed_tools;
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	return m;
}

static cJSON *parse(const char *text)
{
	ck_assert_ptr_nonnull(text);
	cJSON *j = cJSON_Parse(text);
	ck_assert_msg(j != NULL, "not JSON: %s", text);
	return j;
}

static const cJSON *find_named(const cJSON *array, const char *member,
                               const char *name)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, array) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, member);
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return item;
	}
	return NULL;
}

/* The first text item of a CallToolResult. */
static const char *first_text(const cJSON *result)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(result, "content");
	const cJSON *item = cJSON_GetArrayItem(content, 0);
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	ck_assert_msg(cJSON_IsString(text), "no text content");
	return text->valuestring;
}

/* The names of the registry's tools matching pattern. */
static cJSON *registry(cog_ctx *ctx, const char *pattern)
{
	char *json = NULL;
	ck_assert_cog(cog_tool_list(ctx, pattern, COG_TOOL_FORMAT_COG, &json));
	cJSON *list = parse(json);
	cog_free(json);
	return list;
}

START_TEST(test_list_tools)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_ev(ctx, NULL);
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = parse(json);
	static const char *const wanted[] = { "echo", "get-sum",
		"get-structured-content", "trigger-long-running-operation" };
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		ck_assert_msg(find_named(tools, "name", wanted[i]), "no tool %s in %s",
		              wanted[i], json);
	const cJSON *echo = find_named(tools, "name", "echo");
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
	cog_mcp *m = connect_ev(ctx, NULL);
	char *json = NULL;

	ck_assert_cog(cog_mcp_call_tool(m, "echo", "{\"message\":\"hello mcp\"}", 0, &json));
	cJSON *r = parse(json);
	ck_assert_msg(strstr(first_text(r), "hello mcp"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	ck_assert_cog(cog_mcp_call_tool(m, "get-sum", "{\"a\":2,\"b\":40}", 0, &json));
	r = parse(json);
	ck_assert_msg(strstr(first_text(r), "42"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	/* structuredContent, checked against the tool's outputSchema. */
	ck_assert_cog(cog_mcp_call_tool(m, "get-structured-content",
	                                "{\"location\":\"Chicago\"}", 0, &json));
	r = parse(json);
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
	r = parse(json);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError")));
	ck_assert_msg(strlen(cog_error_last()) > 0 &&
	              strstr(first_text(r), cog_error_last()) == first_text(r),
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

static const char *audit_outcome(cJSON *entries, const char *tool, const char *outcome)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, entries) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "tool"));
		const char *o = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "outcome"));
		if (t && o && strcmp(t, tool) == 0 && strcmp(o, outcome) == 0)
			return o;
	}
	return NULL;
}

START_TEST(test_define_registry)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_ev(ctx, NULL);
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	cJSON *list = registry(ctx, "ev__*");
	ck_assert(find_named(list, "name", "ev__echo"));
	ck_assert(find_named(list, "name", "ev__get-sum"));
	const cJSON *sc = find_named(list, "name", "ev__get-structured-content");
	ck_assert(sc);
	/* readOnlyHint → idempotent; the description has the title. */
	char *sc_text = cJSON_PrintUnformatted(sc);
	ck_assert_msg(strstr(sc_text, "idempotent"), "%s", sc_text);
	ck_assert_msg(strstr(sc_text, "Get Structured Content"), "%s", sc_text);
	free(sc_text);
	cJSON_Delete(list);

	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "ev__echo", "{\"message\":\"via registry\"}",
	                            NULL, &json));
	cJSON *r = parse(json);
	ck_assert_msg(strstr(first_text(r), "via registry"), "%s", json);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "isError"));
	cJSON_Delete(r);
	cog_free(json);

	ck_assert_cog(cog_tool_call(ctx, "ev__get-structured-content",
	                            "{\"location\":\"New York\"}", NULL, &json));
	ck_assert_msg(strstr(json, "\"structuredContent\""), "%s", json);
	cog_free(json);

	/* Images and resource links come through as the server sent them. */
	ck_assert_cog(cog_tool_call(ctx, "ev__get-tiny-image", "{}", NULL, &json));
	r = parse(json);
	const cJSON *img = find_named(cJSON_GetObjectItemCaseSensitive(r, "content"),
	                              "type", "image");
	ck_assert_msg(img && cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		img, "data")), "%s", json);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		img, "mimeType")), "image/png");
	cJSON_Delete(r);
	cog_free(json);
	ck_assert_cog(cog_tool_call(ctx, "ev__get-resource-links", "{\"count\":2}",
	                            NULL, &json));
	r = parse(json);
	ck_assert_msg(find_named(cJSON_GetObjectItemCaseSensitive(r, "content"), "type",
	                         "resource_link"), "%s", json);
	cJSON_Delete(r);
	cog_free(json);

	/* Bad arguments: our validator catches them (the server's schema). */
	int rc = cog_tool_call(ctx, "ev__get-sum", "{\"a\":\"x\",\"b\":1}", NULL, &json);
	ck_assert_int_eq(rc, COG_ESCHEMA);
	ck_assert_msg(strstr(json, "invalid_arguments"), "%s", json);
	cog_free(json);

	/* Permissions: a principal without a grant, then with one. */
	cog_tool_call_options co = COG_TOOL_CALL_OPTIONS_INIT;
	co.principal = "{\"tenant\":\"t\",\"id\":\"alice\",\"roles\":[\"analyst\"]}";
	rc = cog_tool_call(ctx, "ev__get-sum", "{\"a\":1,\"b\":2}", &co, &json);
	ck_assert_int_eq(rc, COG_EDENIED);
	ck_assert_msg(strstr(json, "denied"), "%s", json);
	cog_free(json);
	ck_assert_cog(cog_tool_grant(ctx, "analyst", "ev__get-*"));
	ck_assert_cog(cog_tool_call(ctx, "ev__get-sum", "{\"a\":1,\"b\":2}", &co, &json));
	ck_assert_msg(strstr(json, "3"), "%s", json);
	cog_free(json);

	/* The audit log has every call, and its chain holds. */
	ck_assert_cog(cog_audit_read(ctx, 1, 0, &json));
	cJSON *entries = parse(json);
	cog_free(json);
	ck_assert(audit_outcome(entries, "ev__echo", "ok"));
	ck_assert(audit_outcome(entries, "ev__get-sum", "invalid_arguments"));
	ck_assert(audit_outcome(entries, "ev__get-sum", "denied"));
	ck_assert(audit_outcome(entries, "ev__get-sum", "ok"));
	ck_assert(audit_outcome(entries, "ev__get-tiny-image", "ok"));
	ck_assert_int_eq(cJSON_GetArraySize(entries), 7);
	cJSON_Delete(entries);
	ck_assert_cog(cog_audit_verify(ctx, NULL));

	/* Defining again with the same names is this connection's: fine. */
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	/* Close removes the tools. */
	cog_mcp_close(m);
	list = registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	rc = cog_tool_call(ctx, "ev__echo", "{\"message\":\"x\"}", NULL, &json);
	ck_assert_int_eq(rc, COG_ENOTFOUND);
	cog_free(json);
	cog_ctx_free(ctx);
}
END_TEST

static int approvals_asked;

static int approve_fn(const char *request_json, char **edited, void *user_data)
{
	(void)edited;
	const char *deny_tool = user_data;
	approvals_asked++;
	ck_assert_msg(strstr(request_json, "\"tool\":\"pre_echo\"") ||
	              strstr(request_json, "\"tool\":\"pre_get-sum\""), "%s", request_json);
	return strstr(request_json, deny_tool) ? COG_APPROVAL_DENY : COG_APPROVAL_APPROVE;
}

START_TEST(test_define_approval)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_ev(ctx, "[\"echo\",\"get-sum\"]");
	ck_assert_cog(cog_mcp_define_tools(m, "pre_", COG_TOOL_NEEDS_APPROVAL));
	char *json = NULL;
	/* Without a hook, such tools are denied. */
	ck_assert_int_eq(cog_tool_call(ctx, "pre_echo", "{\"message\":\"a\"}", NULL, &json),
	                 COG_EDENIED);
	cog_free(json);
	ck_assert_cog(cog_tool_set_approval_hook(ctx, approve_fn, "pre_get-sum"));
	ck_assert_cog(cog_tool_call(ctx, "pre_echo", "{\"message\":\"approved\"}", NULL, &json));
	ck_assert_msg(strstr(json, "approved"), "%s", json);
	cog_free(json);
	ck_assert_int_eq(approvals_asked, 1);
	ck_assert_int_eq(cog_tool_call(ctx, "pre_get-sum", "{\"a\":1,\"b\":1}", NULL, &json),
	                 COG_EDENIED);
	cog_free(json);
	ck_assert_int_eq(approvals_asked, 2);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_allowed_tools)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_ev(ctx, "[\"echo\",\"get-s*\"]");
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = parse(json);
	cog_free(json);
	ck_assert(find_named(tools, "name", "echo"));
	ck_assert(find_named(tools, "name", "get-sum"));
	ck_assert(find_named(tools, "name", "get-structured-content"));
	ck_assert_int_eq(cJSON_GetArraySize(tools), 3);
	cJSON_Delete(tools);

	ck_assert_int_eq(cog_mcp_call_tool(m, "trigger-long-running-operation",
	                                   "{\"duration\":1,\"steps\":1}", 0, &json),
	                 COG_EDENIED);
	ck_assert_ptr_null(json);

	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 3);
	ck_assert_ptr_null(find_named(list, "name", "ev__trigger-long-running-operation"));
	cJSON_Delete(list);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* Whether the registry holds exactly the server's tools under "ev__". */
static bool registry_matches_server(cog_ctx *ctx, cog_mcp *m)
{
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = parse(json);
	cog_free(json);
	cJSON *list = registry(ctx, "ev__*");
	bool same = cJSON_GetArraySize(tools) == cJSON_GetArraySize(list);
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		char name[128];
		snprintf(name, sizeof(name), "ev__%s",
		         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name")));
		same = same && find_named(list, "name", name) != NULL;
	}
	cJSON_Delete(tools);
	cJSON_Delete(list);
	return same;
}

START_TEST(test_refresh)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_ev(ctx, NULL);
	/* Define at once: server-everything registers more tools after
	 * notifications/initialized and says so with tools/list_changed. */
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	/* The tool it adds after initialize ends up defined, either in the
	 * first list or through the refresh. */
	bool found = false;
	for (int i = 0; i < 300 && !found; i++) {
		cJSON *list = registry(ctx, "ev__simulate-research-query");
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
	cJSON *list = registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* A name taken by a host tool: COG_EEXISTS and nothing defined. */
static int host_tool(const cog_tool_request *request, char **result_json, void *ud)
{
	(void)request;
	(void)ud;
	*result_json = cog_malloc(3);
	memcpy(*result_json, "{}", 3);
	return 0;
}

START_TEST(test_define_exists)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_tool_options to = COG_TOOL_OPTIONS_INIT;
	to.name = "ev__get-sum";
	to.fn = host_tool;
	ck_assert_cog(cog_tool_define(ctx, &to));
	cog_mcp *m = connect_ev(ctx, NULL);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EEXISTS);
	ck_assert_msg(strstr(cog_error_last(), "ev__get-sum"), "%s", cog_error_last());
	cJSON *list = registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);   /* the host's own */
	cJSON_Delete(list);
	/* A prefix with characters outside [A-Za-z0-9_-] and a long one. */
	ck_assert_cog(cog_mcp_define_tools(m, "my.server:", 0));
	list = registry(ctx, "my_server_echo");
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
	char prefix[60];
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	ck_assert_cog(cog_mcp_define_tools(m, prefix, 0));
	list = registry(ctx, "ppp*");
	ck_assert_int_gt(cJSON_GetArraySize(list), 3);
	const cJSON *t;
	cJSON_ArrayForEach(t, list)
		ck_assert_uint_le(strlen(cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(t, "name"))), 64);
	cJSON_Delete(list);
	list = registry(ctx, "my_server*");   /* the earlier ones are gone */
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_mcp_close(m);
	ck_assert_cog(cog_tool_remove(ctx, "ev__get-sum"));
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(test_resources_prompts)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_ev(ctx, NULL);
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_resources(m, &json));
	cJSON *res = parse(json);
	cog_free(json);
	ck_assert_int_gt(cJSON_GetArraySize(res), 0);
	const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(res, 0), "uri"));
	ck_assert_ptr_nonnull(uri);
	ck_assert_cog(cog_mcp_read_resource(m, uri, &json));
	cJSON *read = parse(json);
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
	cJSON *prompts = parse(json);
	ck_assert_msg(find_named(prompts, "name", "args-prompt"), "%s", json);
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
	cJSON *tools = parse(json);
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

/* ---- a small server of our own for what server-everything does not do
 * on demand: pages of tools/list, a tool list that changes, a cursor
 * repeated forever, results that break the rules. ---- */

static const char pager_py[] =
	"import json, sys\n"
	"mode = sys.argv[1]\n"
	"gen = 0\n"
	"def tool(name, desc='d', extra=None):\n"
	"    t = {'name': name, 'description': desc,\n"
	"         'inputSchema': {'type': 'object'}}\n"
	"    t.update(extra or {})\n"
	"    return t\n"
	"def tools():\n"
	"    out = [tool('mutate'), tool('dot.name'), tool('x' * 70),\n"
	"           tool('bad_structured', extra={'outputSchema': {'type': 'object',\n"
	"                'properties': {'n': {'type': 'number'}}, 'required': ['n']}}),\n"
	"           tool('no_content')]\n"
	"    if gen == 0:\n"
	"        out += [tool('alpha'), tool('beta', 'old')]\n"
	"    else:\n"
	"        out += [tool('beta', 'new'), tool('delta')]\n"
	"    return out\n"
	"def send(msg):\n"
	"    sys.stdout.write(json.dumps(msg) + '\\n')\n"
	"    sys.stdout.flush()\n"
	"for line in sys.stdin:\n"
	"    msg = json.loads(line)\n"
	"    if 'id' not in msg:\n"
	"        continue\n"
	"    m, p, r = msg.get('method'), msg.get('params') or {}, None\n"
	"    if m == 'initialize':\n"
	"        r = {'protocolVersion': p['protocolVersion'],\n"
	"             'capabilities': {'tools': {'listChanged': True}},\n"
	"             'serverInfo': {'name': 'pager', 'version': '1'}}\n"
	"    elif m == 'tools/list' and mode == 'loop':\n"
	"        r = {'tools': [tool('t')], 'nextCursor': 'same'}\n"
	"    elif m == 'tools/list':\n"
	"        i = int(p.get('cursor', '0'))\n"
	"        all = tools()\n"
	"        r = {'tools': all[i:i + 2]}\n"
	"        if i + 2 < len(all):\n"
	"            r['nextCursor'] = str(i + 2)\n"
	"    elif m == 'tools/call':\n"
	"        n = p['name']\n"
	"        if n == 'bad_structured':\n"
	"            r = {'content': [], 'structuredContent': {'n': 'x'}}\n"
	"        elif n == 'no_content':\n"
	"            r = {'result': 1}\n"
	"        else:\n"
	"            r = {'content': [{'type': 'text', 'text': n}]}\n"
	"        if n == 'mutate':\n"
	"            gen = 1\n"
	"            send({'jsonrpc': '2.0', 'id': msg['id'], 'result': r})\n"
	"            send({'jsonrpc': '2.0', 'method': 'notifications/tools/list_changed'})\n"
	"            continue\n"
	"    if r is None:\n"
	"        send({'jsonrpc': '2.0', 'id': msg['id'],\n"
	"              'error': {'code': -32601, 'message': 'no ' + str(m)}})\n"
	"    else:\n"
	"        send({'jsonrpc': '2.0', 'id': msg['id'], 'result': r})\n";

static cog_mcp *connect_pager(cog_ctx *ctx, const char *mode)
{
	const char *argv[] = { "python3", "-c", pager_py, mode, NULL };
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "pg";
	o.argv = argv;
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	return m;
}

static const char *description_of(cog_ctx *ctx, const char *name)
{
	static char desc[64];
	cJSON *list = registry(ctx, name);
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(list, 0), "description"));
	snprintf(desc, sizeof(desc), "%s", d ? d : "(none)");
	cJSON_Delete(list);
	return desc;
}

START_TEST(test_pages_and_refresh)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_pager(ctx, "pages");
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));   /* 4 pages of 2 */
	cJSON *tools = parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(tools), 7);
	cJSON_Delete(tools);

	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 7);
	ck_assert(find_named(list, "name", "pg__dot_name"));
	/* The long name is cut to 64 bytes with a hash. */
	const cJSON *t;
	bool long_seen = false;
	cJSON_ArrayForEach(t, list) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
		if (strncmp(n, "pg__xxxx", 8) == 0) {
			long_seen = true;
			ck_assert_uint_eq(strlen(n), 64);
		}
	}
	ck_assert(long_seen);
	cJSON_Delete(list);
	ck_assert_str_eq(description_of(ctx, "pg__beta"), "old");

	/* mutate: alpha goes, beta changes, delta comes; list_changed. */
	ck_assert_cog(cog_tool_call(ctx, "pg__mutate", "{}", NULL, &json));
	cog_free(json);
	ck_assert(mcp_test_log_wait(log, "tools refreshed: 1 added, 1 removed, 1 changed", 20000));
	list = registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 7);
	ck_assert_ptr_null(find_named(list, "name", "pg__alpha"));
	ck_assert(find_named(list, "name", "pg__delta"));
	cJSON_Delete(list);
	ck_assert_str_eq(description_of(ctx, "pg__beta"), "new");
	ck_assert_cog(cog_tool_call(ctx, "pg__delta", "{}", NULL, &json));
	ck_assert_msg(strstr(json, "delta"), "%s", json);
	cog_free(json);

	/* Results that break the rules. */
	ck_assert_int_eq(cog_mcp_call_tool(m, "bad_structured", "{}", 0, &json), COG_ESCHEMA);
	ck_assert_msg(strstr(cog_error_last(), "outputSchema"), "%s", cog_error_last());
	ck_assert_ptr_nonnull(json);
	cog_free(json);
	ck_assert_int_ne(cog_tool_call(ctx, "pg__bad_structured", "{}", NULL, &json), 0);
	ck_assert_msg(strstr(json, "outputSchema"), "%s", json);
	cog_free(json);
	ck_assert_int_eq(cog_mcp_call_tool(m, "no_content", "{}", 0, &json), COG_EPROTO);
	ck_assert_ptr_null(json);

	cog_mcp_close(m);
	list = registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(test_cursor_loop)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_pager(ctx, "loop");
	char *json = NULL;
	ck_assert_int_eq(cog_mcp_list_tools(m, &json), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "repeated"), "%s", cog_error_last());
	ck_assert_ptr_null(json);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EPROTO);
	cog_mcp_close(m);
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
	cJSON *list = registry(ctx, "web__*");
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
	tcase_add_test(tc, test_define_registry);
	tcase_add_test(tc, test_define_approval);
	tcase_add_test(tc, test_allowed_tools);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_define_exists);
	tcase_add_test(tc, test_resources_prompts);
	tcase_add_test(tc, test_connect_json);
	tcase_add_test(tc, test_connect_json_http);
	suite_add_tcase(suite, tc);
	TCase *own = tcase_create("own-server");
	tcase_set_timeout(own, 60);
	tcase_add_test(own, test_pages_and_refresh);
	tcase_add_test(own, test_cursor_loop);
	suite_add_tcase(suite, own);
	SRunner *runner = srunner_create(suite);
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
