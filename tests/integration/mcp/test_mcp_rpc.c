/*
 * The JSON-RPC client and the MCP lifecycle, through the public API, against
 * @modelcontextprotocol/server-everything over stdio (real pipes, a real
 * node process): initialize and server_info, ping, JSON-RPC errors,
 * timeouts and cancellation (with notifications/cancelled), many threads
 * multiplexed on one connection, notifications the server sends unasked
 * (log and event hooks), requests the server sends (sampling), and version
 * negotiation against our fault server (tests/peers/mcp_fault.py) for the
 * versions server-everything does not answer with on demand.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "mcp_test.h"

static cog_mcp *connect_everything(cog_ctx *ctx, cog_mcp_request_fn on_request,
                                   void *user_data)
{
	cog_mcp_options o;
	ck_assert_int_eq(cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION), COG_OK);
	o.name = "everything";
	o.argv = mcp_test_argv(MCP_EVERYTHING, NULL);
	o.on_request = on_request;
	o.request_user_data = user_data;
	cog_mcp *m = NULL;
	int rc = cog_mcp_connect(&m, ctx, &o);
	ck_assert_msg(rc == COG_OK, "connect: %d %s", rc, cog_error_last());
	ck_assert_ptr_nonnull(m);
	return m;
}

/* The text of a CallToolResult's first content item (a copy to free()). */
static char *first_text(const char *result_json)
{
	cJSON *r = cJSON_Parse(result_json);
	ck_assert_msg(r != NULL, "not JSON: %s", result_json);
	cJSON *content = cJSON_GetObjectItemCaseSensitive(r, "content");
	cJSON *item = cJSON_GetArrayItem(content, 0);
	cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "text");
	ck_assert_msg(cJSON_IsString(text), "no text content in %s", result_json);
	char *copy = strdup(text->valuestring);
	cJSON_Delete(r);
	return copy;
}

static char *call_tool(cog_mcp *m, const char *tool, const char *args_json,
                       unsigned int timeout_ms, int *rc)
{
	char params[1024];
	snprintf(params, sizeof(params), "{\"name\":\"%s\",\"arguments\":%s}", tool, args_json);
	char *result = NULL;
	*rc = cog_mcp_request(m, "tools/call", params, timeout_ms, &result);
	return result;
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
	cog_mcp *m = connect_everything(ctx, NULL, NULL);

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
	int rc;
	result = call_tool(m, "echo", "{\"message\":\"still here\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	char *text = first_text(result);
	ck_assert_str_eq(text, "Echo: still here");
	free(text);
	cog_free(result);
	ck_assert_int_eq(cog_mcp_last_error_code(), 0);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

START_TEST(a_request_times_out_and_the_connection_goes_on)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_everything(ctx, NULL, NULL);
	int rc;
	char *result = call_tool(m, "trigger-long-running-operation",
	                         "{\"duration\":5,\"steps\":5}", 300, &rc);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	ck_assert_msg(strstr(cog_error_last(), "tools/call") != NULL &&
	              strstr(cog_error_last(), "300 ms") != NULL, "%s", cog_error_last());

	result = call_tool(m, "echo", "{\"message\":\"after timeout\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	char *text = first_text(result);
	ck_assert_str_eq(text, "Echo: after timeout");
	free(text);
	cog_free(result);
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
	cog_mcp *m = connect_everything(ctx, NULL, NULL);
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
		char *result = call_tool(job->m, "echo", args, 30000, &rc);
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
	cog_mcp *m = connect_everything(ctx, NULL, NULL);
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

/* ---- what the server sends ---- */

START_TEST(notifications_reach_the_hooks)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_everything(ctx, NULL, NULL);

	/* Progress, asked for through params._meta. */
	char *result = NULL;
	int rc = cog_mcp_request(m, "tools/call", "{\"name\":\"trigger-long-running-operation\","
		"\"arguments\":{\"duration\":1,\"steps\":2},\"_meta\":{\"progressToken\":\"tok-7\"}}",
		0, &result);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	cog_free(result);
	ck_assert(mcp_test_log_wait(log, "\"type\":\"mcp.progress\"", 10000));
	ck_assert(mcp_test_log_wait(log, "\"progressToken\":\"tok-7\",\"progress\":2,\"total\":2",
	                            10000));

	/* Logging, sent unasked once it is turned on (once at once, then every
	 * 5 s at a random level). */
	result = call_tool(m, "toggle-simulated-logging", "{}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	cog_free(result);
	bool seen = mcp_test_log_wait(log, "-level message\",\"fields\":{\"data\":", 12000) ||
		mcp_test_log_wait(log, "Alert level-message", 0);
	ck_assert_msg(seen, "no notifications/message reached the log hook");
	ck_assert(mcp_test_log_wait(log, "\"mcp\":\"everything\"", 0));
	result = call_tool(m, "toggle-simulated-logging", "{}", 0, &rc);
	cog_free(result);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(sampling_without_a_handler_is_an_error)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_everything(ctx, NULL, NULL);
	int rc;
	char *result = call_tool(m, "trigger-sampling-request", "{\"prompt\":\"hi\"}", 0, &rc);
	/* Without a handler the client claims no sampling capability: the
	 * server does not offer the tool, and says so in the result. */
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "\"isError\":true") != NULL, "%s", result);
	char *text = first_text(result);
	ck_assert_msg(strstr(text, "trigger-sampling-request") != NULL, "%s", text);
	free(text);
	cog_free(result);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

/* A handler that fails: roots/list is "not found", sampling answers what is
 * not JSON. */
static int refuse(const char *method, const char *params_json, char **result_json,
                  void *user_data)
{
	(void)params_json;
	(void)user_data;
	if (strcmp(method, "sampling/createMessage") == 0) {
		*result_json = cog_malloc(16);
		strcpy(*result_json, "not json");
		return 0;
	}
	return cog_error_set(COG_ENOTFOUND, "test handler refuses %s", method);
}

START_TEST(a_failing_handler_becomes_a_json_rpc_error)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_everything(ctx, refuse, NULL);
	/* server-everything asks for roots/list 350 ms after initialized and
	 * writes the failure to its stderr, which reaches our log. */
	ck_assert_msg(mcp_test_log_wait(log, "MCP error -32601: test handler refuses roots/list",
	                                15000), "the roots/list refusal was not seen");
	int rc;
	char *result = call_tool(m, "trigger-sampling-request", "{\"prompt\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "\"isError\":true") != NULL, "%s", result);
	char *text = first_text(result);
	ck_assert_msg(strstr(text, "-32603") != NULL && strstr(text, "not a JSON object") != NULL,
	              "%s", text);
	free(text);
	cog_free(result);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

typedef struct sampler {
	pthread_mutex_t lock;
	int sampling_calls;
	char params[2048];
} sampler;

static int answer_sampling(const char *method, const char *params_json,
                           char **result_json, void *user_data)
{
	sampler *s = user_data;
	if (strcmp(method, "roots/list") == 0) {
		*result_json = cog_malloc(16);
		strcpy(*result_json, "{\"roots\":[]}");
		return 0;
	}
	if (strcmp(method, "sampling/createMessage") != 0)
		return cog_error_set(COG_ENOTFOUND, "test handler: no %s", method);
	pthread_mutex_lock(&s->lock);
	s->sampling_calls++;
	snprintf(s->params, sizeof(s->params), "%s", params_json ? params_json : "");
	pthread_mutex_unlock(&s->lock);
	const char *answer = "{\"role\":\"assistant\",\"content\":{\"type\":\"text\","
		"\"text\":\"sampled-by-the-test-42\"},\"model\":\"test-model\","
		"\"stopReason\":\"endTurn\"}";
	*result_json = cog_malloc(strlen(answer) + 1);
	strcpy(*result_json, answer);
	return 0;
}

START_TEST(sampling_with_a_handler_reaches_the_server)
{
	sampler s = { .sampling_calls = 0 };
	pthread_mutex_init(&s.lock, NULL);
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = connect_everything(ctx, answer_sampling, &s);
	int rc;
	char *result = call_tool(m, "trigger-sampling-request",
	                         "{\"prompt\":\"hello sampler\",\"maxTokens\":20}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = first_text(result);
	ck_assert_msg(strstr(text, "sampled-by-the-test-42") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "test-model") != NULL, "%s", text);
	free(text);
	cog_free(result);
	pthread_mutex_lock(&s.lock);
	ck_assert_int_eq(s.sampling_calls, 1);
	ck_assert_msg(strstr(s.params, "hello sampler") != NULL, "%s", s.params);
	pthread_mutex_unlock(&s.lock);
	/* The handler's roots/list answer reached the server too, which says
	 * so in a notifications/message. */
	ck_assert(mcp_test_log_wait(log, "Roots updated: 0 root(s) received from client", 15000));
	ck_assert(mcp_test_log_wait(log, "\"logger\":\"everything-server\"", 0));
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
	pthread_mutex_destroy(&s.lock);
}
END_TEST

/* ---- version negotiation ---- */

static int connect_fault(cog_ctx *ctx, const char *version, cog_mcp **m)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--answer-version", version, NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "fault";
	o.argv = argv;
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

/* ---- failing to connect, restarting ---- */

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

/* A log hook that counts the tools/list requests the fault server says it
 * received (--say-received), then keeps the record. */
static atomic_int tools_lists;

static void count_tools_lists(int level, const char *line, void *user_data)
{
	if (strstr(line, "received: tools/list"))
		atomic_fetch_add(&tools_lists, 1);
	mcp_test_log_fn(level, line, user_data);
}

/* Wait (up to 30 s) until n tools/list were seen. */
static bool wait_tools_lists(int n)
{
	for (int i = 0; i < 3000 && atomic_load(&tools_lists) < n; i++) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&tools_lists) >= n;
}

START_TEST(a_crashed_server_is_restarted_while_restarts_remain)
{
	mcp_test_log *log = mcp_test_log_new();
	atomic_store(&tools_lists, 0);
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_DEBUG;
	co.log_fn = count_tools_lists;
	co.log_user_data = log;
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, &co), COG_OK);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--exit-on-call", "--say-received", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "crashy";
	o.argv = argv;
	o.max_restarts = 1;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	ck_assert(wait_tools_lists(1));

	int rc;
	char *result = call_tool(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	/* The next request starts it again. */
	ck_assert_msg(cog_mcp_request(m, "ping", NULL, 0, &result) == COG_OK, "%s",
	              cog_error_last());
	cog_free(result);
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"restarts\":1") && strstr(info, "\"connected\":true"),
	              "%s", info);
	cog_free(info);
	ck_assert(mcp_test_log_wait(log, "restarting server \\\"crashy\\\"", 0));
	/* The registry follows the new process: its tools are listed again. */
	ck_assert_msg(wait_tools_lists(2), "no tools/list after the restart");

	/* Dies again: no restart left. */
	result = call_tool(m, "echo", "{\"message\":\"y\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_int_eq(cog_mcp_request(m, "ping", NULL, 0, &result), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "no restarts left") != NULL, "%s",
	              cog_error_last());
	ck_assert_int_eq(cog_mcp_notify(m, "notifications/x", NULL), COG_EUNAVAILABLE);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* A flood of notifications goes through the bounded queue: the reader
 * waits while the queue is full, nothing is dropped, and the answer that
 * follows the flood still arrives. */
static void slow_log(int level, const char *line, void *user_data)
{
	static atomic_uint count;
	if (atomic_fetch_add(&count, 1) % 8 == 0) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
	mcp_test_log_fn(level, line, user_data);
}

START_TEST(a_flood_of_notifications_is_queued_not_dropped)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_INFO;
	co.log_fn = slow_log;
	co.log_user_data = log;
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, &co), COG_OK);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--flood", "2000", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "flood";
	o.argv = argv;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	int rc;
	char *result = call_tool(m, "echo", "{\"message\":\"after the flood\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	ck_assert_msg(strstr(result, "Echo: after the flood") != NULL, "%s", result);
	cog_free(result);
	/* Every one of them reaches the hook, in order. */
	ck_assert(mcp_test_log_wait(log, "\"message\":\"001999 ", 30000));
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	for (int i = 0; i < 2000; i += 499) {
		char needle[64];
		snprintf(needle, sizeof(needle), "\"message\":\"%06d ", i);
		ck_assert_msg(mcp_test_log_wait(log, needle, 0), "record %d is missing", i);
	}
	mcp_test_log_free(log);
}
END_TEST

/* ---- a server request the client does not answer, and one it does ---- */

static cog_mcp *connect_fault_with(cog_ctx *ctx, const char *flag, const char *flag2,
                                   cog_mcp_request_fn on_request, void *user_data)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, flag, flag2, NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "fault";
	o.argv = argv;
	o.connect_timeout_ms = 20000;
	o.on_request = on_request;
	o.request_user_data = user_data;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	return m;
}

START_TEST(a_server_request_without_a_handler_is_not_supported)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	/* The fault server asks for sampling although we claim no such
	 * capability, and returns our answer as its tool's text. */
	cog_mcp *m = connect_fault_with(ctx, "--ask-sampling", NULL, NULL, NULL);
	int rc;
	char *result = call_tool(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = first_text(result);
	cJSON *answer = cJSON_Parse(text);
	ck_assert_msg(answer != NULL, "%s", text);
	cJSON *error = cJSON_GetObjectItem(answer, "error");
	ck_assert_msg(cJSON_IsObject(error) && !cJSON_HasObjectItem(answer, "result"), "%s", text);
	ck_assert_int_eq(cJSON_GetObjectItem(error, "code")->valueint, -32601);
	ck_assert_str_eq(cJSON_GetObjectItem(error, "message")->valuestring,
	                 "sampling/createMessage is not supported by this client");
	ck_assert_str_eq(cJSON_GetObjectItem(answer, "id")->valuestring, "sampling-1");
	cJSON_Delete(answer);
	free(text);
	cog_free(result);
	cog_mcp_close(m);

	/* With a handler, its answer is the response. */
	sampler s = { .sampling_calls = 0 };
	pthread_mutex_init(&s.lock, NULL);
	m = connect_fault_with(ctx, "--ask-sampling", NULL, answer_sampling, &s);
	result = call_tool(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	text = first_text(result);
	answer = cJSON_Parse(text);
	ck_assert_msg(answer != NULL, "%s", text);
	cJSON *r = cJSON_GetObjectItem(answer, "result");
	ck_assert_msg(cJSON_IsObject(r) && !cJSON_HasObjectItem(answer, "error"), "%s", text);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "content"), "text")->valuestring,
	                 "sampled-by-the-test-42");
	cJSON_Delete(answer);
	free(text);
	cog_free(result);
	pthread_mutex_lock(&s.lock);
	ck_assert_int_eq(s.sampling_calls, 1);
	ck_assert_msg(strstr(s.params, "from mcp_fault") != NULL, "%s", s.params);
	pthread_mutex_unlock(&s.lock);
	cog_mcp_close(m);
	pthread_mutex_destroy(&s.lock);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- cancellation: never initialize ---- */

START_TEST(initialize_is_never_cancelled_a_call_is)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--mute-initialize", "--say-received", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "mute";
	o.argv = argv;
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
	m = connect_fault_with(ctx, "--silent", "--say-received", NULL, NULL);
	char *result = call_tool(m, "echo", "{\"message\":\"x\"}", 300, &rc);
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

/* ---- sends against restarts and close ---- */

typedef struct storm {
	cog_mcp *m;
	cog_ctx *ctx;
	int thread;
	atomic_int *done;
	int ok, down;
	char failure[512];
} storm;

/* Thread 0 kills the server (--exit-on-call) now and then; the others ping
 * and notify meanwhile, racing the stop and start of each restart. */
static void *storm_main(void *arg)
{
	storm *s = arg;
	for (int i = 0; s->thread == 0 ? i < 120 : !atomic_load(s->done); i++) {
		char *result = NULL;
		int rc;
		if (s->thread == 0 && i % 10 == 9)
			result = call_tool(s->m, "echo", "{\"message\":\"die\"}", 10000, &rc);
		else if (i % 2)
			rc = cog_mcp_notify(s->m, "notifications/roots/list_changed", NULL);
		else
			rc = cog_mcp_request(s->m, "ping", NULL, 10000, &result);
		cog_free(result);
		if (rc == COG_OK) {
			s->ok++;
		} else if (rc == COG_EUNAVAILABLE || rc == COG_ECANCELED) {
			s->down++;
		} else {
			snprintf(s->failure, sizeof(s->failure), "%d: %d %s", i, rc, cog_error_last());
			break;
		}
	}
	if (s->thread == 0)
		atomic_store(s->done, 1);
	return NULL;
}

START_TEST(sends_race_restarts_safely)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--exit-on-call", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "storm";
	o.argv = argv;
	o.max_restarts = 8;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	atomic_int done;
	atomic_init(&done, 0);
	storm jobs[THREADS];
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = m;
		jobs[i].thread = i;
		jobs[i].done = &done;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, storm_main, &jobs[i]), 0);
	}
	int ok = 0, down = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
		ok += jobs[i].ok;
		down += jobs[i].down;
	}
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	ck_assert_msg(strstr(info, "\"restarts\":8") != NULL, "%s", info);
	cog_free(info);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(down, 0);
	printf("mcp-rpc: restart storm: %d sends ok, %d refused while down\n", ok, down);
	fflush(stdout);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
}
END_TEST

static void *call_until_closed(void *arg)
{
	storm *s = arg;
	for (;;) {
		char *result = NULL;
		int rc = cog_tool_call(s->ctx, "fault__slow", "{\"ms\":5}", NULL, &result);
		cog_free(result);
		if (rc != COG_OK) {
			if (rc != COG_ENOTFOUND && rc != COG_EUNAVAILABLE && rc != COG_ECANCELED)
				snprintf(s->failure, sizeof(s->failure), "%d %s", rc, cog_error_last());
			return NULL;
		}
		atomic_fetch_add(s->done, 1);
	}
}

START_TEST(close_while_threads_call_its_tools)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = connect_fault_with(ctx, "--stderr-lines", "0", NULL, NULL);
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	atomic_int calls;
	atomic_init(&calls, 0);
	storm jobs[THREADS];
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].ctx = ctx;
		jobs[i].done = &calls;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, call_until_closed, &jobs[i]), 0);
	}
	while (atomic_load(&calls) < 4 * THREADS) {
		struct timespec ts = { 0, 2 * 1000000L };
		nanosleep(&ts, NULL);
	}
	cog_mcp_close(m);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
	}
	cog_ctx_free(ctx);
}
END_TEST

/* ---- HTTP: an expired session is initialized again ---- */

START_TEST(an_expired_http_session_is_initialized_again)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault_http.py");
	const char *pargv[] = { "python3", script, "--expire-session", NULL };
	peer_options po = { 0 };
	po.name = "mcp-fault-http";
	po.argv = pargv;
	po.ready_path = "/stats";
	po.install_hint = "apt-get install python3";
	peer *server = NULL;
	ck_assert_msg(peer_start(&server, &po) == 0, "%s", peer_error());
	char url[512];
	snprintf(url, sizeof(url), "%s/mcp", peer_url(server));

	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp_options o = COG_MCP_OPTIONS_INIT;
	o.name = "web";
	o.url = url;
	o.max_restarts = 0;   /* the spec's new session needs none */
	o.flags = COG_MCP_NO_GET_STREAM;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	char *info = NULL;
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	cJSON *j = cJSON_Parse(info);
	char *first_session = strdup(cJSON_GetObjectItem(j, "session_id")->valuestring);
	cJSON_Delete(j);
	cog_free(info);

	int rc;
	char *result = call_tool(m, "echo", "{\"message\":\"one\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	cog_free(result);
	/* The second call finds the session expired (404)... */
	result = call_tool(m, "echo", "{\"message\":\"two\"}", 0, &rc);
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "session expired") != NULL, "%s", cog_error_last());
	/* ...and the next request initializes a new one. */
	result = call_tool(m, "echo", "{\"message\":\"three\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = first_text(result);
	ck_assert_str_eq(text, "Echo: three");
	free(text);
	cog_free(result);
	ck_assert(mcp_test_log_wait(log, "initializing a new session with server \\\"web\\\"", 0));
	ck_assert(mcp_test_log_wait(log, "not counted against max_restarts", 0));
	ck_assert_int_eq(cog_mcp_server_info(m, &info), COG_OK);
	j = cJSON_Parse(info);
	ck_assert_msg(cJSON_IsTrue(cJSON_GetObjectItem(j, "connected")), "%s", info);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "restarts")->valueint, 1);
	const char *second = cJSON_GetObjectItem(j, "session_id")->valuestring;
	ck_assert_msg(second && strcmp(second, first_session) != 0, "%s", info);
	cJSON_Delete(j);
	cog_free(info);
	free(first_session);
	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
	peer_stop(server);
}
END_TEST

/* ---- an error response with id null ---- */

static cog_mcp *connect_fault_argv(cog_ctx *ctx, const char *const *flags)
{
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[8] = { "python3", script };
	for (size_t i = 0; flags[i] && i < 5; i++)
		argv[2 + i] = flags[i];
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "fault";
	o.argv = argv;
	o.connect_timeout_ms = 20000;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	return m;
}

typedef struct registry_call {
	cog_ctx *ctx;
	int rc;
	char message[1024];
} registry_call;

static void *call_echo_in_registry(void *arg)
{
	registry_call *c = arg;
	char *result = NULL;
	c->rc = cog_tool_call(c->ctx, "fault__echo", "{\"message\":\"first\"}", NULL, &result);
	snprintf(c->message, sizeof(c->message), "%s", cog_error_last());
	cog_free(result);
	return NULL;
}

START_TEST(an_error_with_id_null_fails_the_one_request_pending)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);

	/* One request pending: it fails with the server's error at once. */
	const char *const one[] = { "--null-id-error", "1", NULL };
	cog_mcp *m = connect_fault_argv(ctx, one);
	int rc;
	char *result = call_tool(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_ERROR, "%d %s", rc, cog_error_last());
	ck_assert_ptr_null(result);
	ck_assert_int_eq(cog_mcp_last_error_code(), -32700);
	ck_assert_msg(strstr(cog_error_last(), "tools/call: server \"fault\" answered error "
	                     "-32700: Parse error: mcp_fault could not read a request") &&
	              strstr(cog_error_last(), "id null"), "%s", cog_error_last());
	cog_mcp_close(m);

	/* Two pending: neither can be told, the one that times out says it. A
	 * call through the registry holds the connection, so it may be in
	 * flight at cog_mcp_close, which ends it. */
	const char *const two[] = { "--null-id-error", "2", "--say-received", NULL };
	m = connect_fault_argv(ctx, two);
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	registry_call first = { ctx, 0, "" };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, call_echo_in_registry, &first), 0);
	ck_assert_msg(mcp_test_log_wait(log, "received: tools/call", 30000),
	              "the server never got the first call");
	result = call_tool(m, "echo", "{\"message\":\"second\"}", 5000, &rc);
	ck_assert_msg(rc == COG_ETIMEOUT, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "error -32700: Parse error: mcp_fault could not "
	                     "read a request") && strstr(cog_error_last(), "id null"), "%s",
	              cog_error_last());
	ck_assert(mcp_test_log_wait(log, "null-id error sent", 0));
	cog_mcp_close(m);
	pthread_join(t, NULL);
	ck_assert_msg(first.rc == COG_ECANCELED, "%d %s", first.rc, first.message);
	ck_assert_msg(strstr(first.message, "the connection to server \"fault\" was closed"),
	              "%s", first.message);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

/* ---- a request failed by a crash never reaches the next process ---- */

/* What the fault servers said they received (--say-received), in order
 * (one stderr reader per process: each process's lines keep their order). */
static pthread_mutex_t received_lock = PTHREAD_MUTEX_INITIALIZER;

static char received_text[4 << 20];
static size_t received_len;
static bool received_overflow;

/* Keeps "<pid> <method> <params>" of each line (params up to 60 bytes:
 * the cursors fit). */
static void keep_received(int level, const char *line, void *user_data)
{
	const char *r = strstr(line, "received: ");
	const char *pid = r ? strstr(r, "(pid ") : NULL;
	if (pid) {
		r += strlen("received: ");
		int len = (int)(pid - r) > 60 ? 60 : (int)(pid - r);
		pthread_mutex_lock(&received_lock);
		size_t room = sizeof(received_text) - received_len;
		int n = snprintf(received_text + received_len, room, "%d %.*s\n",
		                 atoi(pid + strlen("(pid ")), len, r);
		if (n > 0 && (size_t)n < room)
			received_len += (size_t)n;
		else
			received_overflow = true;
		pthread_mutex_unlock(&received_lock);
	}
	mcp_test_log_fn(level, line, user_data);
}

typedef struct {
	cog_mcp *m;
	int thread;
	atomic_int *done;
	int failed;                  /* tools/list calls told EUNAVAILABLE */
	char failed_ids[64][32];     /* their cursors (the first 64) */
	char failure[512];
} lister;

/* Thread 0 crashes the server (every tools/call does) until no restart is
 * left; the others list tools meanwhile, each request marked by its cursor
 * ("t<thread>-<i>", which the fault server ignores). */
static void *crash_or_list(void *arg)
{
	lister *l = arg;
	for (int i = 0; l->thread == 0 || !atomic_load(l->done); i++) {
		char *result = NULL;
		int rc;
		if (l->thread == 0) {
			result = call_tool(l->m, "echo", "{\"message\":\"die\"}", 10000, &rc);
			cog_free(result);
			if (rc == COG_EUNAVAILABLE && strstr(cog_error_last(), "no restarts left"))
				break;
			continue;
		}
		char params[64];
		snprintf(params, sizeof(params), "{\"cursor\":\"t%d-%d\"}", l->thread, i);
		rc = cog_mcp_request(l->m, "tools/list", params, 10000, &result);
		cog_free(result);
		if (rc == COG_EUNAVAILABLE) {
			if (l->failed < 64)
				snprintf(l->failed_ids[l->failed], sizeof(l->failed_ids[0]),
				         "\"t%d-%d\"", l->thread, i);
			l->failed++;
		} else if (rc != COG_OK && rc != COG_ECANCELED) {
			snprintf(l->failure, sizeof(l->failure), "%d: %d %s", i, rc,
			         cog_error_last());
			break;
		}
	}
	if (l->thread == 0)
		atomic_store(l->done, 1);
	return NULL;
}

/* Each process (pid) heard initialize first, then notifications/initialized,
 * before anything else. */
static void assert_initialize_first(void)
{
	ck_assert_msg(!received_overflow, "too many lines to keep");
	int pids[64];
	int seen[64] = { 0 };
	size_t npids = 0;
	char *save = NULL;
	for (char *line = strtok_r(received_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int pid = atoi(line);
		const char *what = strchr(line, ' ');
		ck_assert_msg(pid > 0 && what, "bad line %s", line);
		what++;
		size_t k = 0;
		while (k < npids && pids[k] != pid)
			k++;
		if (k == npids) {
			ck_assert_uint_lt(npids, 64);
			pids[npids++] = pid;
		}
		const char *want = seen[k] == 0 ? "initialize " :
			seen[k] == 1 ? "notifications/initialized " : NULL;
		ck_assert_msg(!want || strncmp(what, want, strlen(want)) == 0,
		              "process %d heard \"%s\" before its handshake ended", pid, what);
		seen[k]++;
	}
	ck_assert_uint_ge(npids, 2);
}

START_TEST(requests_failed_by_a_crash_never_reach_the_next_process)
{
	mcp_test_log *log = mcp_test_log_new();
	received_len = 0;
	received_overflow = false;
	received_text[0] = '\0';
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_DEBUG;
	co.log_fn = keep_received;
	co.log_user_data = log;
	cog_ctx *ctx = NULL;
	ck_assert_int_eq(cog_ctx_new(&ctx, &co), COG_OK);
	char script[4096];
	mcp_test_peer_file(script, sizeof(script), "mcp_fault.py");
	const char *argv[] = { "python3", script, "--exit-on-call", "--say-received", NULL };
	cog_mcp_options o;
	cog_mcp_options_init(&o, COG_MCP_OPTIONS_VERSION);
	o.name = "crashy";
	o.argv = argv;
	o.max_restarts = 6;
	cog_mcp *m = NULL;
	ck_assert_msg(cog_mcp_connect(&m, ctx, &o) == COG_OK, "%s", cog_error_last());
	atomic_int done;
	atomic_init(&done, 0);
	static lister jobs[THREADS];
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].m = m;
		jobs[i].thread = i;
		jobs[i].done = &done;
		ck_assert_int_eq(pthread_create(&threads[i], NULL, crash_or_list, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	/* Every process has exited and its stderr was read to the end. */
	cog_mcp_close(m);
	int failed = 0;
	for (int i = 0; i < THREADS; i++) {
		ck_assert_msg(jobs[i].failure[0] == '\0', "thread %d: %s", i, jobs[i].failure);
		failed += jobs[i].failed;
		/* A server that heard a tools/list answered it before it could
		 * die: a caller told it failed must not have been heard. */
		for (int k = 0; k < jobs[i].failed && k < 64; k++)
			ck_assert_msg(strstr(received_text, jobs[i].failed_ids[k]) == NULL,
			              "tools/list %s was reported failed, yet a server received "
			              "it", jobs[i].failed_ids[k]);
	}
	assert_initialize_first();
	printf("mcp-rpc: crash storm: %d tools/list failed by crashes, none heard\n", failed);
	fflush(stdout);
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
	tcase_add_test(tc, notifications_reach_the_hooks);
	tcase_add_test(tc, sampling_without_a_handler_is_an_error);
	tcase_add_test(tc, sampling_with_a_handler_reaches_the_server);
	tcase_add_test(tc, a_failing_handler_becomes_a_json_rpc_error);
	tcase_add_test(tc, older_versions_are_accepted);
	tcase_add_test(tc, an_unknown_version_is_refused);
	tcase_add_test(tc, a_server_that_dies_before_initialize);
	tcase_add_test(tc, a_crashed_server_is_restarted_while_restarts_remain);
	tcase_add_test(tc, a_flood_of_notifications_is_queued_not_dropped);
	tcase_add_test(tc, a_server_request_without_a_handler_is_not_supported);
	tcase_add_test(tc, initialize_is_never_cancelled_a_call_is);
	tcase_add_test(tc, sends_race_restarts_safely);
	tcase_add_test(tc, close_while_threads_call_its_tools);
	tcase_add_test(tc, an_expired_http_session_is_initialized_again);
	tcase_add_test(tc, an_error_with_id_null_fails_the_one_request_pending);
	tcase_add_test(tc, requests_failed_by_a_crash_never_reach_the_next_process);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mcp_rpc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
