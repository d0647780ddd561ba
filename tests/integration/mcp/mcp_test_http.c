/* Shared by the MCP HTTP tests (test_mcp_http.c, test_mcp_http_faults.c,
 * test_mcp_restarts.c): see mcp_test.h. */
#include "mcp_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

cog_mcp *mcp_test_http_connect(cog_ctx *ctx, const char *url, const char *token)
{
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.bearer_token = token;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == 0, "%s", cog_error_last());
	return m;
}

char *mcp_test_call_json(cog_mcp *m, const char *tool, const char *args_json)
{
	char *result = NULL;
	int rc = cog_mcp_call_tool(m, tool, args_json, 0, &result);
	ck_assert_msg(rc == 0, "%s: %s", tool, cog_error_last());
	ck_assert(result != NULL);
	return result;
}

char *mcp_test_session_id(cog_mcp *m)
{
	char *info = NULL;
	ck_assert_msg(cog_mcp_server_info(m, &info) == 0, "%s", cog_error_last());
	cJSON *j = cJSON_Parse(info);
	ck_assert_msg(j != NULL, "%s", info);
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "session_id");
	ck_assert_msg(cJSON_IsString(sid) && sid->valuestring[0], "%s", info);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "transport");
	ck_assert_msg(cJSON_IsString(kind) && strcmp(kind->valuestring, "http") == 0,
	              "%s", info);
	char *copy = strdup(sid->valuestring);
	cJSON_Delete(j);
	cog_free(info);
	return copy;
}

static void *bg_call_main(void *arg)
{
	mcp_test_bg_call *c = arg;
	char *r = NULL;
	c->rc = cog_mcp_call_tool(c->m, c->tool, c->args_json, 0, &r);
	cog_free(r);
	return NULL;
}

void mcp_test_bg_call_start(mcp_test_bg_call *c, cog_mcp *m, const char *tool,
                            const char *args_json)
{
	c->m = m;
	c->tool = tool;
	c->args_json = args_json;
	c->rc = 0;
	ck_assert_int_eq(pthread_create(&c->thread, NULL, bg_call_main, c), 0);
}

int mcp_test_bg_call_join(mcp_test_bg_call *c)
{
	pthread_join(c->thread, NULL);
	return c->rc;
}

peer *mcp_test_start_fault_http(char *url, size_t url_size, const char *const *flags)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault_http.py");
	const char *argv[8] = { "python3", script };
	size_t n = 2;
	for (; flags && flags[n - 2] && n < 7; n++)
		argv[n] = flags[n - 2];
	argv[n] = NULL;
	peer_options o = { 0 };
	o.name = "mcp-fault-http";
	o.argv = argv;
	o.ready_path = "/stats";
	o.install_hint = "apt-get install python3";
	peer *p = NULL;
	ck_assert_msg(peer_start(&p, &o) == 0, "%s", peer_error());
	snprintf(url, url_size, "%s/mcp", peer_url(p));
	return p;
}

cJSON *mcp_test_fault_stats(cog_ctx *ctx, peer *server)
{
	char stats_url[600];
	snprintf(stats_url, sizeof(stats_url), "%s/stats", peer_url(server));
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.url = stats_url;
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	ck_assert_msg(cog_transport_perform(cog_ctx_transport(ctx), &req, &resp) == 0,
	              "%s", cog_error_last());
	ck_assert_int_eq(resp.status, 200);
	cJSON *j = cJSON_Parse(resp.body);
	ck_assert_msg(j != NULL, "%s", resp.body);
	cog_http_response_dispose(&resp);
	return j;
}

int mcp_test_stats_int(const cJSON *stats, const char *member)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(stats, member);
	ck_assert_msg(cJSON_IsNumber(n), "stats without %s", member);
	return n->valueint;
}

int mcp_test_stats_count(const cJSON *stats, const char *member, const char *value)
{
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(stats, member))
		if (cJSON_IsString(item) && strcmp(item->valuestring, value) == 0)
			n++;
	return n;
}
