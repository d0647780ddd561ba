/*
 * The MCP client over streamable HTTP, through libcurl, against the
 * reference server-everything (streamableHttp mode): tools, progress,
 * parallel requests, cancel, the GET stream, the session ended on close;
 * and a server that is absent. The faults a real server does not produce
 * on demand (tests/peers/mcp_fault_http.py): test_mcp_http_faults.c.
 * Public API only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <cognition.h>

#include "mcp_test.h"
#include "peer.h"

static peer *server;
static char url[512];

static void everything_up(void)
{
	server = mcp_test_start_http(url, sizeof(url));
}

static void server_down(void)
{
	peer_stop(server);
	server = NULL;
}

START_TEST(test_connect_and_tools)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	free(mcp_test_session_id(m));

	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"hello over http\"}");
	ck_assert_msg(strstr(r, "Echo: hello over http") != NULL, "%s", r);
	cog_free(r);
	r = mcp_test_call_json(m, "get-sum", "{\"a\":2,\"b\":40}");
	ck_assert_msg(strstr(r, "42") != NULL, "%s", r);
	cog_free(r);
	r = mcp_test_call_json(m, "get-structured-content", "{\"location\":\"New York\"}");
	ck_assert_msg(strstr(r, "\"structuredContent\"") && strstr(r, "\"temperature\":33"),
	              "%s", r);
	cog_free(r);
	ck_assert_msg(cog_mcp_notify(m, "notifications/roots/list_changed", NULL) == 0,
	              "%s", cog_error_last());
	/* Several requests at once share the connection. */
	char *list = NULL;
	ck_assert_msg(cog_mcp_list_tools(m, &list) == 0, "%s", cog_error_last());
	ck_assert(strstr(list, "trigger-long-running-operation") != NULL);
	cog_free(list);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(test_progress)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *r = mcp_test_call_json(m, "trigger-long-running-operation",
	                    "{\"duration\":2,\"steps\":4}");
	ck_assert_msg(strstr(r, "completed") != NULL, "%s", r);
	cog_free(r);
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 5000),
	              "no mcp.progress event reached the event hook");
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* Requests from several threads share the connection (POSTs in
 * parallel, each answered on its own stream). */
typedef struct echo_job {
	cog_mcp *m;
	int n;
	int failures;
} echo_job;

static void *echo_thread(void *arg)
{
	echo_job *job = arg;
	for (int i = 0; i < 5; i++) {
		char args[64], want[64];
		snprintf(args, sizeof(args), "{\"message\":\"t%d-%d\"}", job->n, i);
		snprintf(want, sizeof(want), "Echo: t%d-%d\"", job->n, i);
		char *r = NULL;
		if (cog_mcp_call_tool(job->m, "echo", args, 0, &r) != 0 || !strstr(r, want))
			job->failures++;
		cog_free(r);
	}
	return NULL;
}

START_TEST(test_parallel_requests)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	pthread_t threads[4];
	echo_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (echo_job){ m, i, 0 };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, echo_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_int_eq(jobs[i].failures, 0);
	}
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* cog_ctx_cancel stops a call whose answer is still streaming. */
START_TEST(test_cancel_streaming_call)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	mcp_test_bg_call job;
	mcp_test_bg_call_start(&job, m, "trigger-long-running-operation",
	                       "{\"duration\":30,\"steps\":30}");
	ck_assert_msg(mcp_test_log_wait(log, "mcp.progress", 20000),
	              "the long operation sent no progress");
	cog_ctx_cancel(ctx);
	ck_assert_int_eq(mcp_test_bg_call_join(&job), COG_ECANCELED);
	cog_ctx_reset_cancel(ctx);
	char *r = mcp_test_call_json(m, "echo", "{\"message\":\"still here\"}");
	ck_assert_msg(strstr(r, "Echo: still here") != NULL, "%s", r);
	cog_free(r);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* Simulated logging is sent outside any request: it can only come on the
 * GET stream. */
START_TEST(test_get_stream_messages)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *sid = mcp_test_session_id(m);
	char needle[256];
	snprintf(needle, sizeof(needle), "SessionId %s", sid);
	char *r = mcp_test_call_json(m, "toggle-simulated-logging", "{}");
	cog_free(r);
	ck_assert_msg(mcp_test_log_wait(log, needle, 20000),
	              "no notifications/message from the GET stream in the log");
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
	free(sid);
}
END_TEST

START_TEST(test_close_deletes_session)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_http_connect(ctx, url, NULL);
	char *sid = mcp_test_session_id(m);
	cog_mcp_close(m);

	char sid_line[300];
	snprintf(sid_line, sizeof(sid_line), "mcp-session-id: %s", sid);
	const char *headers[] = { "Content-Type: application/json",
		"Accept: application/json, text/event-stream",
		"MCP-Protocol-Version: " COG_MCP_PROTOCOL_VERSION, sid_line };
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}";
	cog_http_request req = COG_HTTP_REQUEST_INIT;
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.header_count = 4;
	req.body = body;
	req.body_len = strlen(body);
	cog_http_response resp = COG_HTTP_RESPONSE_INIT;
	ck_assert_msg(cog_transport_perform(cog_ctx_transport(ctx), &req, &resp) == 0,
	              "%s", cog_error_last());
	ck_assert_msg(resp.status == 400 || resp.status == 404,
	              "the session still works after close: HTTP %d %s", resp.status,
	              resp.body ? resp.body : "");
	cog_http_response_dispose(&resp);
	free(sid);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- no server ---- */

START_TEST(test_server_absent)
{
	/* A port nothing listens on: one the kernel gave and took back. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(fd >= 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", (unsigned)ntohs(a.sin_port));
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp_options mo = COG_MCP_OPTIONS_INIT;
	mo.name = "absent";
	mo.url = url;
	mo.connect_timeout_ms = 5000;
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, &mo);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "rc %d: %s", rc, cog_error_last());
	ck_assert(m == NULL);
	ck_assert_msg(strstr(cog_error_last(), "absent") != NULL, "%s", cog_error_last());
	cog_ctx_free(ctx);
}
END_TEST

static TCase *tcase(const char *name, void (*up)(void), void (*down)(void))
{
	TCase *tc = tcase_create(name);
	if (up)
		tcase_add_unchecked_fixture(tc, up, down);
	tcase_set_timeout(tc, 90);
	return tc;
}

static Suite *mcp_http_suite(void)
{
	Suite *s = suite_create("mcp_http");
	TCase *tc = tcase("everything", everything_up, server_down);
	tcase_add_test(tc, test_connect_and_tools);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_parallel_requests);
	tcase_add_test(tc, test_cancel_streaming_call);
	tcase_add_test(tc, test_get_stream_messages);
	tcase_add_test(tc, test_close_deletes_session);
	suite_add_tcase(s, tc);
	tc = tcase("absent", NULL, NULL);
	tcase_add_test(tc, test_server_absent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(mcp_http_suite());
}
