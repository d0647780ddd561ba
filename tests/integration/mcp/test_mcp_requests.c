/*
 * What an MCP server sends unasked, through the public API: notifications
 * reaching the log and event hooks (progress, logging, a flood held in the
 * bounded queue, not dropped), requests from the server (sampling and
 * roots/list answered by the host's handler, refused by a failing one,
 * "not supported" without one) and an error response with id null.
 * Against @modelcontextprotocol/server-everything and our fault server
 * (tests/peers/mcp_fault.py) over stdio; real pipes, a real node process.
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

/* ---- what the server sends ---- */

START_TEST(notifications_reach_the_hooks)
{
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);

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
	result = mcp_test_call_result(m, "toggle-simulated-logging", "{}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%s", cog_error_last());
	cog_free(result);
	bool seen = mcp_test_log_wait(log, "-level message\",\"fields\":{\"data\":", 12000) ||
		mcp_test_log_wait(log, "Alert level-message", 0);
	ck_assert_msg(seen, "no notifications/message reached the log hook");
	ck_assert(mcp_test_log_wait(log, "\"mcp\":\"everything\"", 0));
	result = mcp_test_call_result(m, "toggle-simulated-logging", "{}", 0, &rc);
	cog_free(result);

	cog_mcp_close(m);
	cog_ctx_free(ctx);
	mcp_test_log_free(log);
}
END_TEST

START_TEST(sampling_without_a_handler_is_an_error)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	cog_mcp *m = mcp_test_connect_everything(ctx, NULL, NULL);
	int rc;
	char *result = mcp_test_call_result(m, "trigger-sampling-request", "{\"prompt\":\"hi\"}", 0, &rc);
	/* Without a handler the client claims no sampling capability: the
	 * server does not offer the tool, and says so in the result. */
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "\"isError\":true") != NULL, "%s", result);
	char *text = mcp_test_first_text(result);
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
	cog_mcp *m = mcp_test_connect_everything(ctx, refuse, NULL);
	/* server-everything asks for roots/list 350 ms after initialized and
	 * writes the failure to its stderr, which reaches our log. */
	ck_assert_msg(mcp_test_log_wait(log, "MCP error -32601: test handler refuses roots/list",
	                                15000), "the roots/list refusal was not seen");
	int rc;
	char *result = mcp_test_call_result(m, "trigger-sampling-request", "{\"prompt\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(result, "\"isError\":true") != NULL, "%s", result);
	char *text = mcp_test_first_text(result);
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

/* The handler answered exactly one sampling request, whose params held
 * needle. */
static void assert_sampled_once(sampler *s, const char *needle)
{
	pthread_mutex_lock(&s->lock);
	ck_assert_int_eq(s->sampling_calls, 1);
	ck_assert_msg(strstr(s->params, needle) != NULL, "%s", s->params);
	pthread_mutex_unlock(&s->lock);
}

START_TEST(sampling_with_a_handler_reaches_the_server)
{
	sampler s = { .sampling_calls = 0 };
	pthread_mutex_init(&s.lock, NULL);
	mcp_test_log *log = mcp_test_log_new();
	cog_ctx *ctx = mcp_test_ctx(log);
	cog_mcp *m = mcp_test_connect_everything(ctx, answer_sampling, &s);
	int rc;
	char *result = mcp_test_call_result(m, "trigger-sampling-request",
	                         "{\"prompt\":\"hello sampler\",\"maxTokens\":20}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = mcp_test_first_text(result);
	ck_assert_msg(strstr(text, "sampled-by-the-test-42") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "test-model") != NULL, "%s", text);
	free(text);
	cog_free(result);
	assert_sampled_once(&s, "hello sampler");
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
	cog_ctx *ctx = mcp_test_ctx_log_fn(COG_LOG_INFO, slow_log, log);
	const char *const flags[] = { "--flood", "2000", NULL };
	cog_mcp_options o;
	mcp_test_fault_options(&o, flags);
	o.name = "flood";
	cog_mcp *m = mcp_test_connect(ctx, &o);
	int rc;
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"after the flood\"}", 0, &rc);
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

static const char *const ask_sampling[] = { "--ask-sampling", NULL };

START_TEST(a_server_request_without_a_handler_is_not_supported)
{
	cog_ctx *ctx = mcp_test_ctx(NULL);
	/* The fault server asks for sampling although we claim no such
	 * capability, and returns our answer as its tool's text. */
	cog_mcp *m = mcp_test_connect_fault(ctx, ask_sampling, NULL, NULL);
	int rc;
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	char *text = mcp_test_first_text(result);
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
	m = mcp_test_connect_fault(ctx, ask_sampling, answer_sampling, &s);
	result = mcp_test_call_result(m, "echo", "{\"message\":\"x\"}", 0, &rc);
	ck_assert_msg(rc == COG_OK, "%d %s", rc, cog_error_last());
	text = mcp_test_first_text(result);
	answer = cJSON_Parse(text);
	ck_assert_msg(answer != NULL, "%s", text);
	cJSON *r = cJSON_GetObjectItem(answer, "result");
	ck_assert_msg(cJSON_IsObject(r) && !cJSON_HasObjectItem(answer, "error"), "%s", text);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "content"), "text")->valuestring,
	                 "sampled-by-the-test-42");
	cJSON_Delete(answer);
	free(text);
	cog_free(result);
	assert_sampled_once(&s, "from mcp_fault");
	cog_mcp_close(m);
	pthread_mutex_destroy(&s.lock);
	cog_ctx_free(ctx);
}
END_TEST

/* ---- an error response with id null ---- */

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
	cog_mcp *m = mcp_test_connect_fault(ctx, one, NULL, NULL);
	int rc;
	char *result = mcp_test_call_result(m, "echo", "{\"message\":\"x\"}", 0, &rc);
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
	m = mcp_test_connect_fault(ctx, two, NULL, NULL);
	ck_assert_msg(cog_mcp_define_tools(m, NULL, 0) == COG_OK, "%s", cog_error_last());
	registry_call first = { ctx, 0, "" };
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, call_echo_in_registry, &first), 0);
	ck_assert_msg(mcp_test_log_wait(log, "received: tools/call", 30000),
	              "the server never got the first call");
	result = mcp_test_call_result(m, "echo", "{\"message\":\"second\"}", 5000, &rc);
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

static Suite *mcp_requests_suite(void)
{
	Suite *s = suite_create("mcp-requests");
	TCase *tc = tcase_create("requests");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, notifications_reach_the_hooks);
	tcase_add_test(tc, a_flood_of_notifications_is_queued_not_dropped);
	tcase_add_test(tc, sampling_without_a_handler_is_an_error);
	tcase_add_test(tc, sampling_with_a_handler_reaches_the_server);
	tcase_add_test(tc, a_failing_handler_becomes_a_json_rpc_error);
	tcase_add_test(tc, a_server_request_without_a_handler_is_not_supported);
	tcase_add_test(tc, an_error_with_id_null_fails_the_one_request_pending);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return mcp_test_run(mcp_requests_suite());
}
