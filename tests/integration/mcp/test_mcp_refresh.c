/*
 * MCP tools with servers of our own, for what server-everything does not
 * do on demand (tests/peers/mcp_pages.py): tools/list in pages, a list that
 * changes under the registry (refresh: added, removed, changed), a cursor
 * repeated forever, lists that never end (the caps of a list: items and
 * bytes; tools/list's 10,000 tools), 9,000 tools defined and refreshed, an outputSchema that changes at every list, results that break
 * the rules (structuredContent against outputSchema, no content array), big
 * image results, the catalogue listed once for direct calls. Real pipes,
 * public API only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <cognition.h>

#include "mcp_test.h"

/* tests/peers/mcp_pages.py in `mode` (with `arg`, may be NULL) as server
 * "pg". */
static cog_mcp *connect_pager_arg(cog_ctx *ctx, const char *mode, const char *arg,
                                  size_t max_message_bytes, unsigned int timeout_ms)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_pages.py");
	const char *argv[] = { "python3", script, mode, arg, NULL };
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "pg";
	o.argv = argv;
	o.max_message_bytes = max_message_bytes;
	o.timeout_ms = timeout_ms;
	cog_mcp *m = NULL;
	ck_assert_cog(cog_mcp_connect(&m, ctx, &o));
	return m;
}

static cog_mcp *connect_pager(cog_ctx *ctx, const char *mode,
                              size_t max_message_bytes, unsigned int timeout_ms)
{
	return connect_pager_arg(ctx, mode, NULL, max_message_bytes, timeout_ms);
}

static const char *description_of(cog_ctx *ctx, const char *name)
{
	static char desc[64];
	cJSON *list = mcp_test_registry(ctx, name);
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
	cog_mcp *m = connect_pager(ctx, "pages", 0, 0);
	char *json = NULL;
	ck_assert_cog(cog_mcp_list_tools(m, &json));   /* 3 pages of 3 */
	cJSON *tools = mcp_test_parse(json);
	cog_free(json);
	ck_assert_int_eq(cJSON_GetArraySize(tools), 9);
	cJSON_Delete(tools);

	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 9);
	ck_assert(mcp_test_find_named(list, "name", "pg__dot_name"));
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
	list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 9);
	ck_assert_ptr_null(mcp_test_find_named(list, "name", "pg__alpha"));
	ck_assert(mcp_test_find_named(list, "name", "pg__delta"));
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
	list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(test_cursor_loop)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_pager(ctx, "loop", 0, 0);
	char *json = NULL;
	ck_assert_int_eq(cog_mcp_list_tools(m, &json), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "repeated"), "%s", cog_error_last());
	ck_assert_ptr_null(json);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EPROTO);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* Lists that never end: what a server can make the client hold is
 * capped, in items (5000 a page) and in bytes (4 MiB a page). */
START_TEST(test_list_caps)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_pager(ctx, "many", 0, 0);
	char *json = NULL;
	ck_assert_int_eq(cog_mcp_list_tools(m, &json), COG_EPROTO);
	ck_assert_ptr_null(json);
	const char *e = cog_error_last();
	ck_assert_msg(strstr(e, "tools/list") && strstr(e, "\"pg\"") &&
	              strstr(e, "10000 tools (the cap of tools/list)"), "%s", e);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EPROTO);
	cog_mcp_close(m);

	/* A list that ends, but past the cap of tools/list: 20 pages of 1000. */
	m = connect_pager_arg(ctx, "bulk", "20000", 0, 0);
	ck_assert_int_eq(cog_mcp_list_tools(m, &json), COG_EPROTO);
	ck_assert_ptr_null(json);
	e = cog_error_last();
	ck_assert_msg(strstr(e, "\"pg\" sent more than 10000 tools (the cap of "
	                     "tools/list)"), "%s", e);
	ck_assert_int_eq(cog_mcp_define_tools(m, NULL, 0), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "10000 tools"), "%s", cog_error_last());
	cog_mcp_close(m);

	m = connect_pager(ctx, "huge", 0, 0);
	ck_assert_int_eq(cog_mcp_list_tools(m, &json), COG_EPROTO);
	ck_assert_ptr_null(json);
	e = cog_error_last();
	ck_assert_msg(strstr(e, "tools/list") && strstr(e, "\"pg\"") &&
	              strstr(e, "64 MiB"), "%s", e);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* Tool "shifty" with key: whether its structuredContent {key: 1} passes
 * the outputSchema the client holds. */
static int shifty(cog_mcp *m, int n)
{
	char args[64];
	snprintf(args, sizeof(args), "{\"key\":\"v%d\"}", n);
	char *json = NULL;
	int rc = cog_mcp_call_tool(m, "shifty", args, 0, &json);
	ck_assert_msg(rc == COG_OK || rc == COG_ESCHEMA, "%d: %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(json);
	cog_free(json);
	return rc;
}

/* An outputSchema that changes at every list (at the Nth it requires
 * "vN"): the schema in force is always the last listed, never an older
 * one kept. */
START_TEST(test_schema_changes)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_pager(ctx, "schemas", 0, 0);
	ck_assert_int_eq(shifty(m, 1), COG_OK);   /* listed once: requires v1 */
	ck_assert_int_eq(shifty(m, 0), COG_ESCHEMA);
	for (int n = 2; n <= 40; n++) {
		char *json = NULL;
		ck_assert_cog(cog_mcp_list_tools(m, &json));
		cog_free(json);
		ck_assert_int_eq(shifty(m, n), COG_OK);
		ck_assert_int_eq(shifty(m, n - 1), COG_ESCHEMA);
		ck_assert_msg(strstr(cog_error_last(), "outputSchema"), "%s",
		              cog_error_last());
		ck_assert_int_eq(shifty(m, n), COG_OK);
	}
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* The text of tool "lists": how many tools/list requests the server saw. */
static int lists_served(cog_mcp *m)
{
	char *json = NULL;
	ck_assert_cog(cog_mcp_call_tool(m, "lists", "{}", 0, &json));
	cJSON *r = mcp_test_parse(json);
	cog_free(json);
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0),
		"text"));
	ck_assert_ptr_nonnull(text);
	int n = atoi(text);
	cJSON_Delete(r);
	return n;
}

/* Direct calls before any list: the catalogue (for outputSchemas) is
 * listed once, after the first call, and kept; list_changed lists again
 * once. */
START_TEST(test_list_once)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_pager(ctx, "pages", 0, 0);
	ck_assert_int_eq(lists_served(m), 0);
	ck_assert_int_eq(lists_served(m), 3);   /* one list: 3 pages */
	ck_assert_int_eq(lists_served(m), 3);
	ck_assert_int_eq(lists_served(m), 3);
	char *json = NULL;
	ck_assert_cog(cog_mcp_call_tool(m, "mutate", "{}", 0, &json));
	cog_free(json);
	ck_assert(mcp_test_log_wait(log, "tools list refreshed", 20000));
	ck_assert_int_eq(lists_served(m), 6);
	ck_assert_int_eq(lists_served(m), 6);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* An image over the registry's 1 MiB default passes (the cap of a
 * defined tool is max_message_bytes); one over max_message_bytes never
 * arrives: the transport drops it and the call times out. */
START_TEST(test_big_results)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_pager(ctx, "pages", 0, 0);
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "pg__big_image", "{\"bytes\":3000000}", NULL, &json));
	cJSON *r = mcp_test_parse(json);
	cog_free(json);
	const cJSON *img = mcp_test_find_named(cJSON_GetObjectItemCaseSensitive(r, "content"),
	                              "type", "image");
	const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(img, "data"));
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(strlen(data), 4000000);   /* base64 of 3000000 bytes */
	cJSON_Delete(r);
	cog_mcp_close(m);

	m = connect_pager(ctx, "pages", 1 << 20, 3000);
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = mcp_test_registry(ctx, "pg__big_image");
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0),
	                                                    "max_output_bytes");
	ck_assert_msg(cJSON_IsNumber(cap) && cap->valuedouble == 1048576.0,
	              "max_output_bytes of pg__big_image is not 1 MiB");
	cJSON_Delete(list);
	ck_assert_cog(cog_tool_call(ctx, "pg__big_image", "{\"bytes\":500000}", NULL, &json));
	cog_free(json);
	int rc = cog_tool_call(ctx, "pg__big_image", "{\"bytes\":2000000}", NULL, &json);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d: %s", rc, cog_error_last());
	ck_assert_msg(strstr(json, "\"error\""), "%s", json);
	cog_free(json);
	ck_assert(mcp_test_log_wait(log, "over max_message_bytes", 5000));
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* 9,000 tools (under the cap): defined, then refreshed after a change
 * that touches half of them. Names are looked up through indexes, not a
 * scan per tool: this ends well within the test's timeout. */
START_TEST(test_many_tools_define_and_refresh)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_pager_arg(ctx, "bulk", "9000", 0, 0);
	ck_assert_cog(cog_mcp_define_tools(m, NULL, 0));
	cJSON *list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 9001);
	cJSON_Delete(list);
	ck_assert_str_eq(description_of(ctx, "pg__bulk_8998"), "d");

	char *json = NULL;
	ck_assert_cog(cog_tool_call(ctx, "pg__mutate", "{}", NULL, &json));
	cog_free(json);
	/* bulk_0 goes, bulk_9000 comes, bulk_2 .. bulk_8998 change. */
	ck_assert(mcp_test_log_wait(log, "tools refreshed: 1 added, 1 removed, "
	                            "4499 changed, 0 failed", 60000));
	list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 9001);
	ck_assert_ptr_null(mcp_test_find_named(list, "name", "pg__bulk_0"));
	ck_assert(mcp_test_find_named(list, "name", "pg__bulk_9000"));
	cJSON_Delete(list);
	ck_assert_str_eq(description_of(ctx, "pg__bulk_8998"), "e");
	ck_assert_str_eq(description_of(ctx, "pg__bulk_8999"), "d");
	ck_assert_cog(cog_tool_call(ctx, "pg__bulk_9000", "{}", NULL, &json));
	ck_assert_msg(strstr(json, "bulk_9000"), "%s", json);
	cog_free(json);

	cog_mcp_close(m);
	list = mcp_test_registry(ctx, "pg__*");
	ck_assert_int_eq(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("mcp-refresh");
	TCase *tc = tcase_create("own-servers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pages_and_refresh);
	tcase_add_test(tc, test_cursor_loop);
	tcase_add_test(tc, test_list_caps);
	tcase_add_test(tc, test_schema_changes);
	tcase_add_test(tc, test_list_once);
	tcase_add_test(tc, test_big_results);
	tcase_add_test(tc, test_many_tools_define_and_refresh);
	suite_add_tcase(suite, tc);
	return mcp_test_run(suite);
}
