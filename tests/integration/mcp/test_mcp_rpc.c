/*
 * The JSON-RPC client and the MCP lifecycle, through the public API, against
 * @modelcontextprotocol/server-everything over stdio (real pipes, a real
 * node process): options, initialize and server_info, ping, JSON-RPC
 * errors, timeouts and cancellation (with notifications/cancelled, never of
 * initialize), many threads multiplexed on one connection, servers that
 * die or stay mute before initialize, and version negotiation against our
 * fault server (tests/peers/mcp_fault.py) for the versions
 * server-everything does not answer with on demand. Crashes and restarts:
 * test_mcp_restarts.c; what the server sends (notifications, requests):
 * test_mcp_requests.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "mcp_test.h"

/* tools/call of echo with message: the test fails unless the answer is
 * "Echo: <message>". */
static void assert_echo(cog_mcp *m, const char *message)
{
	char args[256], want[256], *text = NULL;
	snprintf(args, sizeof(args), "{\"message\":\"%s\"}", message);
	snprintf(want, sizeof(want), "Echo: %s", message);
	int rc = mcp_test_call(m, "echo", args, 0, &text);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_str_eq(text, want);
	free(text);
}

/* ---- options ---- */

static void expect_einval(cog_ctx *ctx, const cog_mcp_options *o, const char *needle)
{
	cog_mcp *m = (cog_mcp *)1;
	int rc = cog_mcp_connect(&m, ctx, o);
	ck_assert_msg(rc == COG_EINVAL, "expected COG_EINVAL for %s, got %d (%s)", needle, rc,
	              cog_error_last());
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(cog_error_last(), needle) != NULL, "message \"%s\" lacks \"%s\"",
	              cog_error_last(), needle);
	ck_assert_msg(strstr(cog_error_last(), "cog_mcp_connect") != NULL, "%s",
	              cog_error_last());
}

START_TEST(bad_options_are_refused_with_the_member_named)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	const char *const argv[] = { "node", "x.js", NULL };
	const char *const empty_argv[] = { NULL };
	const char *const bad_env[] = { "=v", NULL };
	const char *const bad_header[] = { "X-Key: a\r\nInjected: b" };
	const char *const no_colon[] = { "X-Key value" };
	cog_mcp_options o;

	ck_assert_int_eq(cog_mcp_options_init(&o, 0), COG_EVERSION);
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION + 1), COG_EVERSION);
	ck_assert_int_eq(cog_mcp_options_init(NULL, COG_MCP_OPTIONS_VERSION), COG_EINVAL);

#define RESET() do { cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION); \
	o.name = "srv"; o.argv = argv; } while (0)
	RESET(); o.name = NULL;               expect_einval(ctx, &o, "options.name");
	RESET(); o.name = "";                 expect_einval(ctx, &o, "options.name");
	RESET(); o.name = "has space";        expect_einval(ctx, &o, "options.name");
	RESET(); o.name = "a23456789012345678901234567890123"; expect_einval(ctx, &o, "options.name");
	RESET(); o.url = "http://127.0.0.1:1/mcp"; expect_einval(ctx, &o, "options.url");
	RESET(); o.argv = NULL;               expect_einval(ctx, &o, "options.argv");
	RESET(); o.argv = empty_argv;         expect_einval(ctx, &o, "options.argv");
	RESET(); o.argv = NULL; o.url = "ftp://example.com/";
	expect_einval(ctx, &o, "options.url must start with http:// or https://");
	RESET(); o.envp = bad_env;            expect_einval(ctx, &o, "options.envp[0]");
	RESET(); o.headers = bad_header; o.header_count = 1;
	expect_einval(ctx, &o, "options.headers[0]");
	RESET(); o.headers = no_colon; o.header_count = 1;
	expect_einval(ctx, &o, "options.headers[0]");
	RESET(); o.headers = NULL; o.header_count = 2; expect_einval(ctx, &o, "options.headers");
	RESET(); o.allowed_tools = "{\"a\":1}"; expect_einval(ctx, &o, "options.allowed_tools");
	RESET(); o.allowed_tools = "[\"echo\", 3]"; expect_einval(ctx, &o, "options.allowed_tools[1]");
	RESET(); o.allowed_tools = "[\"echo\""; expect_einval(ctx, &o, "options.allowed_tools");
	RESET(); o.max_message_bytes = 100;   expect_einval(ctx, &o, "options.max_message_bytes");
	RESET(); o.max_message_bytes = ((size_t)1 << 30) + 1;
	expect_einval(ctx, &o, "options.max_message_bytes");
	RESET(); o.version = 0;
	cog_mcp *m = NULL;
	ck_assert_int_eq(cog_mcp_connect(&m, ctx, &o), COG_EVERSION);
	RESET();
	ck_assert_int_eq(cog_mcp_connect(&m, NULL, &o), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_connect(&m, ctx, NULL), COG_EINVAL);
#undef RESET
	cog_ctx_free(ctx);

	/* HTTP needs the context's transport. */
	cog_ctx *bare = NULL;
	ck_assert_int_eq(cog_ctx_new(&bare, NULL), COG_OK);
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "web";
	o.url = "http://127.0.0.1:9/mcp";
	ck_assert_int_eq(cog_mcp_connect(&m, bare, &o), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "cog_ctx_set_transport") != NULL, "%s",
	              cog_error_last());
	ck_assert_ptr_null(m);
	cog_ctx_free(bare);
	cog_mcp_close(NULL);
}
END_TEST

/* ---- lifecycle and requests ---- */

START_TEST(connect_info_ping_and_errors)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);

	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	cJSON *j = cJSON_Parse(info);
	ck_assert_msg(j != NULL, "%s", info);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "protocolVersion")->valuestring, "2025-11-25");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "name")->valuestring, "everything");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "transport")->valuestring, "stdio");
	cJSON *server = cJSON_GetObjectItem(j, "serverInfo");
	ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(server, "name")), "%s", info);
	ck_assert_msg(strstr(cJSON_GetObjectItem(server, "name")->valuestring, "everything"),
	              "%s", info);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "capabilities"),
	                                             "tools")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "connected")));
	cJSON_Delete(j);
	cog_free(info);

	char *result = NULL;
	ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
	              cog_error_last());
	ck_assert_str_eq(result, "{}");
	cog_free(result);

	result = (char *)1;
	ck_assert_int_eq(cog_mcp_request(m, "no/such/method", "{}", 0, &result), COG_ERROR);
	ck_assert_ptr_null(result);
	ck_assert_int_eq(cog_mcp_last_error_code(), -32601);
	ck_assert_msg(strstr(cog_error_last(), "no/such/method: server \"everything\" answered "
	                     "error -32601") != NULL, "%s", cog_error_last());

	/* Bad arguments to the calls themselves. */
	ck_assert_int_eq(cog_mcp_request(m, "ping", "[1]", 0, &result), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_request(m, "ping", "{", 0, &result), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_request(m, "", NULL, 0, &result), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_request(NULL, "ping", NULL, 0, &result), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_notify(m, "notifications/x", "3"), COG_EINVAL);
	ck_assert_int_eq(cog_mcp_notify(m, "notifications/roots/list_changed", NULL), COG_OK);

	/* The connection still works after all that. */
	assert_echo(m, "still here");
	ck_assert_int_eq(cog_mcp_last_error_code(), 0);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(a_request_times_out_and_the_connection_goes_on)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);
	int rc;
	char *result = mcp_test_call_result(m, "trigger-long-running-operation",
	                                    "{\"duration\":5,\"steps\":5}", 300, &rc);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	ck_assert_msg(strstr(cog_error_last(), "tools/call") != NULL &&
	              strstr(cog_error_last(), "300 ms") != NULL, "%s", cog_error_last());

	assert_echo(m, "after timeout");
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

typedef struct canceler {
	cog_ctx *ctx;
	mcp_test_log *log;
	bool saw_progress;
} canceler;

/* Cancel once the server shows it has the call: its first progress. */
static void *cancel_when_running(void *arg)
{
	canceler *c = arg;
	c->saw_progress = mcp_test_log_wait(c->log, "\"progressToken\":\"cancel-me\"", 60000);
	cog_ctx_cancel(c->ctx);
	return NULL;
}

START_TEST(cancel_from_another_thread)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);
	canceler c = { ctx, log, false };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_when_running, &c), 0);
	/* One progress notification a second, for 30 s. */
	char *result = NULL;
	int rc = cog_mcp_request(m, "tools/call", "{\"name\":\"trigger-long-running-operation\","
		"\"arguments\":{\"duration\":30,\"steps\":30},"
		"\"_meta\":{\"progressToken\":\"cancel-me\"}}", 0, &result);
	pthread_join(t, NULL);
	ck_assert_msg(c.saw_progress, "no progress of the call reached the event hook");
	ck_assert_msg(rc == COG_ECANCELED, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	ck_assert_msg(strstr(cog_error_last(), "tools/call") != NULL, "%s", cog_error_last());

	cog_ctx_reset_cancel(ctx);
	ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
	              cog_error_last());
	cog_free(result);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* ---- multiplexing ---- */

#define THREADS 8
#define CALLS 50

typedef struct echo_job {
	cog_mcp *m;
	int thread;
	int ok;
	char failure[512];
} echo_job;

static void *echo_many(void *arg)
{
	echo_job *job = arg;
	for (int i = 0; i < CALLS; i++) {
		char args[128], want[128];
		snprintf(args, sizeof(args), "{\"message\":\"t%d-c%d\"}", job->thread, i);
		snprintf(want, sizeof(want), "Echo: t%d-c%d", job->thread, i);
		int rc;
		char *result = mcp_test_call_result(job->m, "echo", args, 30000, &rc);
		if (rc != COG_OK) {
			snprintf(job->failure, sizeof(job->failure), "call %d: %d %s", i, rc,
			         cog_error_last());
			return NULL;
		}
		cJSON *r = cJSON_Parse(result);
		cJSON *text = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r,
			"content"), 0), "text");
		if (cJSON_IsString(text) && strcmp(text->valuestring, want) == 0)
			job->ok++;
		else
			snprintf(job->failure, sizeof(job->failure), "call %d: %s", i, result);
		cJSON_Delete(r);
		cog_free(result);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(threads_share_one_connection)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);
	echo_job jobs[THREADS];
	pthread_t threads[THREADS];
	double t0 = now_s();
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = m;
		jobs[i].thread = i;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, echo_many, &jobs[i]), 0);
	}
	int ok = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
		ok += jobs[i].ok;
	}
	double took = now_s() - t0;
	ck_assert_int_eq(ok, THREADS * CALLS);
	printf("mcp-rpc: %d echo calls from %d threads in %.3f s (%.0f calls/s)\n",
	       THREADS * CALLS, THREADS, took, THREADS * CALLS / took);
	fflush(stdout);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- version negotiation ---- */

/* Our fault server answering initialize with `version`. */
static int connect_fault(cog_ctx *ctx, const char *version, cog_mcp **m)
{
	const char *const flags[] = { "--answer-version", version, NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.connect_timeout_ms = 20000;
	return cog_mcp_connect(m, ctx, &o);
}

START_TEST(older_versions_are_accepted)
{
	static const char *const versions[] = { "2024-11-05", "2025-03-26", "2025-06-18" };
	cog_ctx *ctx = mcp_test_ctx(NULL);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		cog_mcp *m = NULL;
		int rc = connect_fault(ctx, versions[i], &m);
		ck_assert_msg(rc == COG_OK, "%s: %s", versions[i], cog_error_last());
		char *info = NULL;
		ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
		char want[64];
		snprintf(want, sizeof(want), "\"protocolVersion\":\"%s\"", versions[i]);
		ck_assert_msg(strstr(info, want) != NULL, "%s", info);
		cog_free(info);
		char *result = NULL;
		ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
		              cog_error_last());
		cog_free(result);
		cog_mcp_close(m);
	}
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(an_unknown_version_is_refused)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = (cog_mcp *)1;
	int rc = connect_fault(ctx, "1999-01-01", &m);
	ck_assert_msg(rc == COG_EPROTO, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(cog_error_last(), "\"1999-01-01\"") != NULL &&
	              strstr(cog_error_last(), "cog_mcp_connect") != NULL &&
	              strstr(cog_error_last(), "2025-11-25") != NULL, "%s", cog_error_last());
	cog_ctx_free(ctx);
}
END_TEST

/* ---- failing to connect ---- */

START_TEST(a_server_that_dies_before_initialize)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	const char *argv[] = { "python3", "-c",
		"import sys; sys.stderr.write('boom: no config here\\n'); sys.exit(4)", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "dies";
	o.argv = argv;
	cog_mcp *m = (cog_mcp *)1;
	int rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(cog_error_last(), "cog_mcp_connect") != NULL &&
	              strstr(cog_error_last(), "\"dies\"") != NULL &&
	              strstr(cog_error_last(), "boom: no config here") != NULL, "%s",
	              cog_error_last());

	/* One that never answers: the connect timeout. */
	const char *mute[] = { "sleep", "30", NULL };
	o.argv = mute;
	o.name = "mute";
	o.connect_timeout_ms = 500;
	rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "initialize") != NULL, "%s", cog_error_last());
	ck_assert_ptr_null(m);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- cancellation: never initialize ---- */

START_TEST(initialize_is_never_cancelled_a_call_is)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	const char *const mute[] = { "--mute-initialize", "--say-received", NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, mute);
	o.name = "mute";
	o.connect_timeout_ms = 1500;
	cog_mcp *m = (cog_mcp *)1;
	int rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(m);
	/* Its whole stderr is read before the connect returns. */
	ck_assert(mcp_test_log_wait(log, "received: initialize", 0));
	ck_assert_msg(!mcp_test_log_wait(log, "received: notifications/cancelled", 0),
	              "initialize was cancelled");

	/* A call that times out is cancelled, with its id. */
	const char *const silent[] = { "--silent", "--say-received", NULL };
	m = mcp_test_connect_fault(ctx, silent, NULL, NULL);
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"x\"}", 300, &rc);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	ck_assert(mcp_test_log_wait(log, "received: notifications/cancelled {\\\"requestId\\\": 2,",
	                            15000));
	/* One that was answered is not. */
	ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
	              cog_error_last());
	cog_free(result);
	cog_mcp_close(m);
	ck_assert(mcp_test_log_wait(log, "received: ping", 0));
	ck_assert_msg(!mcp_test_log_wait(log, "\\\"requestId\\\": 3", 0), "ping was cancelled");
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

static Suite *mcp_rpc_suite(void)
{
	Suite *s = suite_create("mcp-rpc");
	TCase *tc = tcase_create("rpc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_options_are_refused_with_the_member_named);
	tcase_add_test(tc, connect_info_ping_and_errors);
	tcase_add_test(tc, a_request_times_out_and_the_connection_goes_on);
	tcase_add_test(tc, cancel_from_another_thread);
	tcase_add_test(tc, threads_share_one_connection);
	tcase_add_test(tc, older_versions_are_accepted);
	tcase_add_test(tc, an_unknown_version_is_refused);
	tcase_add_test(tc, a_server_that_dies_before_initialize);
	tcase_add_test(tc, initialize_is_never_cancelled_a_call_is);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(mcp_rpc_suite());
}
