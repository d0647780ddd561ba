/*
 * The server's tools as cog tools in the registry (cog_mcp_define_tools):
 * calls through cog_tool_call against the reference server
 * @modelcontextprotocol/server-everything over stdio, argument validation,
 * permissions, approvals, the audit log, allowed_tools, naming (prefixes,
 * clashes with host tools, long names), close removing the tools, and
 * close while a registry call is in flight (tests/peers/mcp_fault.py's
 * "slow" tool). Real pipes, public API only.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"

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
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	cJSON *list = mcp_test_registry(ctx, "ev__*");
	ck_assert(mcp_test_find_named(list, "name", "ev__echo"));
	ck_assert(mcp_test_find_named(list, "name", "ev__get-sum"));
	const cJSON *sc = mcp_test_find_named(list, "name", "ev__get-structured-content");
	ck_assert(sc);
	/* readOnlyHint → idempotent, but a hint never removes side_effects
	 * (the injection policy holds every MCP tool); the description has
	 * the title. */
	char *sc_text = cJSON_PrintUnformatted(sc);
	ck_assert_msg(strstr(sc_text, "idempotent"), "%s", sc_text);
	ck_assert_msg(strstr(sc_text, "side_effects"), "%s", sc_text);
	ck_assert_msg(strstr(sc_text, "Get Structured Content"), "%s", sc_text);
	free(sc_text);
	cJSON_Delete(list);

	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "ev__echo", "{\"message\":\"via registry\"}",
	                            NULL, &json));
	cJSON *r = mcp_test_parse(json);
	ck_assert_msg(strstr(mcp_test_result_text(r), "via registry"), "%s", json);
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "isError"));
	cJSON_Delete(r);
	cog_free(json);

	ck_assert_cog(cog_tool_call(ctx, "ev__get-structured-content",
	                            "{\"location\":\"New York\"}", NULL, &json));
	ck_assert_msg(strstr(json, "\"structuredContent\""), "%s", json);
	cog_free(json);

	/* Images and resource links come through as the server sent them. */
	ck_assert_cog(cog_tool_call(ctx, "ev__get-tiny-image", "{}", NULL, &json));
	r = mcp_test_parse(json);
	const cJSON *img = mcp_test_find_named(cJSON_GetObjectItemCaseSensitive(r, "content"),
	                              "type", "image");
	ck_assert_msg(img && cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		img, "data")), "%s", json);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		img, "mimeType")), "image/png");
	cJSON_Delete(r);
	cog_free(json);
	ck_assert_cog(cog_tool_call(ctx, "ev__get-resource-links", "{\"count\":2}",
	                            NULL, &json));
	r = mcp_test_parse(json);
	ck_assert_msg(mcp_test_find_named(cJSON_GetObjectItemCaseSensitive(r, "content"), "type",
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
	cJSON *entries = mcp_test_parse(json);
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
	list = mcp_test_registry(ctx, "ev__*");
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
	cog_mcp *m = mcp_test_connect_ev(ctx, "[\"echo\",\"get-sum\"]");
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
	cog_mcp *m = mcp_test_connect_ev(ctx, "[\"echo\",\"get-s*\"]");
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));
	cJSON *tools = mcp_test_parse(json);
	cog_free(json);
	ck_assert(mcp_test_find_named(tools, "name", "echo"));
	ck_assert(mcp_test_find_named(tools, "name", "get-sum"));
	ck_assert(mcp_test_find_named(tools, "name", "get-structured-content"));
	ck_assert_int_eq(cJSON_GetArraySize(tools), 3);
	cJSON_Delete(tools);

	ck_assert_int_eq(cog_mcp_call_tool(m, "trigger-long-running-operation",
	                                   "{\"duration\":1,\"steps\":1}", 0, &json),
	                 COG_EDENIED);
	ck_assert_ptr_null(json);

	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = mcp_test_registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 3);
	ck_assert_ptr_null(mcp_test_find_named(list, "name", "ev__trigger-long-running-operation"));
	cJSON_Delete(list);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
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
	cog_mcp *m = mcp_test_connect_ev(ctx, NULL);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EEXISTS);
	ck_assert_msg(strstr(cog_error_last(), "ev__get-sum"), "%s", cog_error_last());
	cJSON *list = mcp_test_registry(ctx, "ev__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);   /* the host's own */
	cJSON_Delete(list);
	/* A prefix with characters outside [A-Za-z0-9_-] and a long one. */
	ck_assert_cog(cog_mcp_define_tools(m, "my.server:", 0));
	list = mcp_test_registry(ctx, "my_server_echo");
	ck_assert_int_eq(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
	char prefix[60];
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	ck_assert_cog(cog_mcp_define_tools(m, prefix, 0));
	list = mcp_test_registry(ctx, "ppp*");
	ck_assert_int_gt(cJSON_GetArraySize(list), 3);
	const cJSON *t;
	cJSON_ArrayForEach(t, list)
		ck_assert_uint_le(strlen(cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(t, "name"))), 64);
	cJSON_Delete(list);
	list = mcp_test_registry(ctx, "my_server*");   /* the earlier ones are gone */
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_mcp_close(m);
	ck_assert_cog(cog_tool_remove(ctx, "ev__get-sum"));
	cog_ctx_free(ctx);
}
END_TEST

/* ---- cog_mcp_close() while a registry call is in flight ---- */

typedef struct slow_call {
	cog_ctx *ctx;
	int rc;
	char *json;
	char message[512];
} slow_call;

static void *slow_call_main(void *arg)
{
	slow_call *c = arg;
	c->rc = cog_tool_call(c->ctx, "f__slow", "{\"ms\":60000}", NULL, &c->json);
	snprintf(c->message, sizeof(c->message), "%s", cog_error_last());
	return NULL;
}

START_TEST(test_close_during_call)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, NULL };
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "f";
	o.argv = argv;
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));

	slow_call c = { .ctx = ctx };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_call_main, &c), 0);
	/* The server says so on stderr once the call reached it. */
	ck_assert(mcp_test_log_wait(log, "slow: sleeping", 30000));
	cog_mcp_close(m);
	/* The tools are gone at once, the call in flight or not. */
	cJSON *list = mcp_test_registry(ctx, "f__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	pthread_join(th, NULL);

	ck_assert_msg(c.rc == COG_ECANCELED || c.rc == COG_EUNAVAILABLE, "%d: %s",
	              c.rc, c.message);
	ck_assert_msg(strstr(c.message, "clos"), "%s", c.message);
	cJSON *r = mcp_test_parse(c.json);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
	ck_assert_msg(cJSON_IsObject(err), "%s", c.json);
	ck_assert_msg(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type")),
	              "%s", c.json);
	cJSON_Delete(r);
	cog_free(c.json);
	char *json = NULL;
	ck_assert_int_eq(cog_tool_call(ctx, "f__echo", "{\"message\":\"x\"}", NULL, &json),
	                 COG_ENOTFOUND);
	cog_free(json);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("mcp-registry");
	TCase *tc = tcase_create("registry");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_define_registry);
	tcase_add_test(tc, test_define_approval);
	tcase_add_test(tc, test_allowed_tools);
	tcase_add_test(tc, test_define_exists);
	tcase_add_test(tc, test_close_during_call);
	suite_add_tcase(suite, tc);
	return mcp_test_run(suite);
}
