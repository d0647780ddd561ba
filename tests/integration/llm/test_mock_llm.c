/*
 * The providers and the router against a real third-party server:
 * @dwmkerr/mock-llm 0.1.29 from npm (tests/peers, rules in
 * tests/peers/mock-llm.yaml), through libcognition-curl. The peer is started
 * once for the whole binary (an unchecked fixture) on a free loopback port
 * and stopped at the end; when it cannot start, the tests fail saying why.
 *
 * Covered: chat (echo, model, key and extra header, parameters, usage),
 * streamed text, a tool call and the answer after it, embeddings,
 * Anthropic /v1/messages (text, tool_use, headers, max_tokens), a 429 and a
 * 401 mapped to their statuses (and a 429 sent as a stream's one event),
 * the router on top (answer, streaming, retries of a 429 then the failure
 * reported, embeddings, statistics), and the peer helper's own messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "llm_test.h"
#include "peer.h"
#include "test_tmp.h"

/* The last error message says `text`. */
#define ck_assert_error_has(text) \
	ck_assert_msg(strstr(cog_error_last(), text) != NULL, "%s", cog_error_last())

static const char *API_KEY = "sk-test-4f2a9c";
static const char *ANTHROPIC_KEY = "ak-test-77b1";

static peer *mock;                 /* the test binary's one peer */
static char base_url[64];          /* http://127.0.0.1:<port>/v1 */
static cog_ctx *ctx;

/* ---- fixtures ---- */

static void mock_start(void)
{
	char script[1024], config[1024];
	const char *root = getenv("COG_TEST_SOURCE_ROOT");

	ck_assert_msg(peer_node_module(script, sizeof(script),
	                               "@dwmkerr/mock-llm/dist/main.js") == 0, "%s", peer_error());
	snprintf(config, sizeof(config), "%s/tests/peers/mock-llm.yaml", root);
	const char *argv[] = { "node", script, "--config", config, NULL };
	const char *env[] = { "HOST=127.0.0.1", NULL };
	peer_options o = { 0 };
	o.name = "mock-llm";
	o.argv = argv;
	o.env = env;
	o.ready_path = "/health";
	o.install_hint = PEER_NODE_HINT;
	ck_assert_msg(peer_start(&mock, &o) == 0, "%s", peer_error());
	snprintf(base_url, sizeof(base_url), "%s/v1", peer_url(mock));
}

static void mock_stop(void)
{
	peer_stop(mock);
	mock = NULL;
}

static void setup(void)
{
	ck_assert_msg(mock != NULL, "mock-llm is not running");
	ctx = ctx_with_curl(NULL);
}

static void teardown(void)
{
	cog_ctx_free(ctx);
	ctx = NULL;
}

/* ---- helpers ---- */

static cog_llm *provider(int kind, const char *const *headers, size_t n_headers)
{
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	cog_llm *llm = NULL;

	o.provider = kind;
	o.base_url = base_url;
	o.api_key = kind == COG_LLM_ANTHROPIC ? ANTHROPIC_KEY : API_KEY;
	o.model = kind == COG_LLM_ANTHROPIC ? "claude-mock" : "mock-model";
	o.headers = headers;
	o.header_count = n_headers;
	o.timeout_ms = 10000;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	return llm;
}

/* Parse an answer (freeing the text). */
static cJSON *parsed(char *json)
{
	cJSON *v;

	ck_assert_ptr_nonnull(json);
	v = cJSON_Parse(json);
	ck_assert_msg(v != NULL, "not JSON: %s", json);
	cog_free(json);
	return v;
}

static const char *str_at(const cJSON *v, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, a);

	if (b != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	ck_assert_msg(cJSON_IsString(x), "%s%s%s is not a string", a, b ? "." : "", b ? b : "");
	return x->valuestring;
}

static double num_at(const cJSON *v, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, a);

	if (b != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	ck_assert_msg(cJSON_IsNumber(x), "%s%s%s is not a number", a, b ? "." : "", b ? b : "");
	return x->valuedouble;
}

static const char *content(const cJSON *answer)
{
	return str_at(answer, "message", "content");
}

/* Check the one tool call of an answer: get_weather {"city":"Paris"}. */
static void expect_weather_call(const cJSON *answer, const char *id)
{
	const cJSON *message = cJSON_GetObjectItem(answer, "message");
	const cJSON *calls = cJSON_GetObjectItem(message, "tool_calls");
	const cJSON *call = cJSON_GetArrayItem(calls, 0);

	ck_assert_int_eq(cJSON_GetArraySize(calls), 1);
	ck_assert_str_eq(str_at(call, "id", NULL), id);
	ck_assert_str_eq(str_at(call, "name", NULL), "get_weather");
	ck_assert_str_eq(str_at(call, "arguments", "city"), "Paris");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(call, "arguments")), 1);
	ck_assert_str_eq(str_at(answer, "finish_reason", NULL), "tool_calls");
}

typedef struct events {
	char text[1024];
	int text_events, retry_events, other_events;
} events;

static int collect(const char *event_json, size_t len, void *user_data)
{
	events *ev = user_data;
	cJSON *e = cJSON_ParseWithLength(event_json, len);
	const char *type = e != NULL ? cJSON_GetStringValue(cJSON_GetObjectItem(e, "type")) : NULL;

	ck_assert_msg(type != NULL, "bad event: %.*s", (int)len, event_json);
	if (strcmp(type, "text") == 0) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(e, "text"));
		ck_assert_ptr_nonnull(t);
		ck_assert_uint_lt(strlen(ev->text) + strlen(t), sizeof(ev->text));
		strcat(ev->text, t);
		ev->text_events++;
	} else if (strcmp(type, "retry") == 0) {
		ev->retry_events++;
	} else {
		ev->other_events++;
	}
	cJSON_Delete(e);
	return 0;
}

#define LONG_TEXT "Streaming through mock-llm arrives in pieces of eight characters each"
/* A request of one user message (text without '"' or '\\'). */
#define USER(text) "{\"messages\":[{\"role\":\"user\",\"content\":\"" text "\"}]}"

/* ---- the OpenAI provider ---- */

START_TEST(chat_echoes_the_message)
{
	cog_llm *llm = provider(COG_LLM_OPENAI, NULL, 0);
	char *out = NULL;

	ck_assert_cog(cog_llm_backend_chat(llm, "{\"messages\":[{\"role\":\"system\","
		"\"content\":\"be brief\"},{\"role\":\"user\","
		"\"content\":\"Hello from libcognition\"}]}", NULL, &out));
	cJSON *a = parsed(out);
	ck_assert_str_eq(content(a), "Hello from libcognition");
	ck_assert_str_eq(str_at(a, "finish_reason", NULL), "stop");
	ck_assert_str_eq(str_at(a, "model", NULL), "mock-model");
	ck_assert_str_eq(str_at(a, "provider", NULL), "openai");
	ck_assert_double_eq(num_at(a, "usage", "input_tokens"), 3);
	ck_assert_double_eq(num_at(a, "usage", "output_tokens"), 1);
	ck_assert(num_at(a, "latency_ms", NULL) >= 0);
	cJSON_Delete(a);
	/* A model named in the request wins over the default. */
	ck_assert_cog(cog_llm_backend_chat(llm, "{\"model\":\"other-model\",\"messages\":"
		"[{\"role\":\"user\",\"content\":\"hi\"}]}", NULL, &out));
	a = parsed(out);
	ck_assert_str_eq(str_at(a, "model", NULL), "other-model");
	cJSON_Delete(a);
	cog_llm_free(llm);
}
END_TEST

START_TEST(chat_sends_key_headers_and_parameters)
{
	const char *headers[] = { "X-Test-Extra: yes" };
	cog_llm *llm = provider(COG_LLM_OPENAI, headers, 1);
	char *out = NULL, *description = NULL;

	ck_assert_cog(cog_llm_backend_chat(llm, "{\"messages\":[{\"role\":\"user\","
		"\"content\":\"whoami\"}],\"max_tokens\":5,\"temperature\":0.5}", NULL, &out));
	cJSON *a = parsed(out);
	ck_assert_str_eq(content(a), "auth=Bearer sk-test-4f2a9c extra=yes max_tokens=5 "
	                 "temperature=0.5");
	ck_assert_str_eq(str_at(a, "finish_reason", NULL), "length");
	ck_assert_double_eq(num_at(a, "usage", "input_tokens"), 11);
	ck_assert_double_eq(num_at(a, "usage", "output_tokens"), 7);
	ck_assert_double_eq(num_at(a, "usage", "cached_tokens"), 5);
	cJSON_Delete(a);
	ck_assert_cog(cog_llm_describe(llm, &description));
	ck_assert_msg(strstr(description, API_KEY) == NULL, "key in describe(): %s", description);
	cog_free(description);
	cog_llm_free(llm);
}
END_TEST

START_TEST(streamed_text_arrives_in_pieces)
{
	cog_llm *llm = provider(COG_LLM_OPENAI, NULL, 0);
	cog_llm_call call = COG_LLM_CALL_INIT;
	events ev = { "", 0, 0, 0 };
	char *out = NULL;

	call.on_event = collect;
	call.event_user_data = &ev;
	ck_assert_cog(cog_llm_backend_chat(llm, USER(LONG_TEXT), &call, &out));
	cJSON *a = parsed(out);
	/* 69 characters in pieces of 8: 9 events. */
	ck_assert_int_eq(ev.text_events, 9);
	ck_assert_int_eq(ev.other_events, 0);
	ck_assert_str_eq(ev.text, LONG_TEXT);
	ck_assert_str_eq(content(a), LONG_TEXT);
	ck_assert_str_eq(str_at(a, "finish_reason", NULL), "stop");
	ck_assert_int_ne(call.streamed, 0);
	ck_assert_int_eq(call.http_status, 200);
	cJSON_Delete(a);
	cog_llm_free(llm);
}
END_TEST

START_TEST(tool_call_and_the_answer_after_it)
{
	cog_llm *llm = provider(COG_LLM_OPENAI, NULL, 0);
	char *out = NULL;
	const char *tools = "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather now\","
		"\"input_schema\":{\"type\":\"object\","
		"\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}]";
	char request[1024];

	snprintf(request, sizeof(request), "{\"messages\":[{\"role\":\"user\",\"content\":"
	         "\"What is the weather in Paris?\"}],%s,\"tool_choice\":\"auto\"}", tools);
	ck_assert_cog(cog_llm_backend_chat(llm, request, NULL, &out));
	cJSON *a = parsed(out);
	expect_weather_call(a, "call_1");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "message"), "content")));
	ck_assert_double_eq(num_at(a, "usage", "output_tokens"), 9);
	cJSON_Delete(a);
	/* Our shape of the assistant's call goes back in OpenAI's. */
	snprintf(request, sizeof(request), "{\"messages\":[{\"role\":\"user\",\"content\":"
	         "\"What is the weather in Paris?\"},{\"role\":\"assistant\",\"content\":null,"
	         "\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":"
	         "{\"city\":\"Paris\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\","
	         "\"content\":\"sunny\"}],%s}", tools);
	ck_assert_cog(cog_llm_backend_chat(llm, request, NULL, &out));
	a = parsed(out);
	ck_assert_str_eq(content(a), "tool call_1 said sunny after get_weather");
	cJSON_Delete(a);
	cog_llm_free(llm);
}
END_TEST

START_TEST(embeddings_in_input_order)
{
	cog_llm *llm = provider(COG_LLM_OPENAI, NULL, 0);
	char *out = NULL, *text = NULL;

	ck_assert_cog(cog_llm_backend_embed(llm, "{\"model\":\"embed-mock\",\"input\":"
		"[\"first\",\"second\"]}", NULL, &out));
	cJSON *a = parsed(out);
	/* The server listed index 1 first. */
	text = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "data"));
	ck_assert_str_eq(text, "[[0.1,-0.2,0.3],[0.4,0.5,-0.6]]");
	cJSON_free(text);
	ck_assert_double_eq(num_at(a, "dimensions", NULL), 3);
	ck_assert_double_eq(num_at(a, "usage", "input_tokens"), 4);
	ck_assert_str_eq(str_at(a, "model", NULL), "embed-mock");
	cJSON_Delete(a);
	ck_assert_cog(cog_llm_backend_embed(llm, "{\"input\":\"one\"}", NULL, &out));
	a = parsed(out);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "data")), 1);
	cJSON_Delete(a);
	cog_llm_free(llm);
}
END_TEST

START_TEST(rate_limit_and_bad_key_are_mapped)
{
	cog_llm *llm = provider(COG_LLM_OPENAI, NULL, 0);
	cog_llm_call call = COG_LLM_CALL_INIT;
	events ev = { "", 0, 0, 0 };
	char *out = NULL;

	ck_assert_int_eq(cog_llm_backend_chat(llm, USER("error-429"), &call, &out), COG_EBUSY);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(call.http_status, 429);
	ck_assert_uint_eq(call.retry_after_ms, 0);
	ck_assert_error_has("Rate limit reached");
	ck_assert_int_eq(cog_llm_backend_chat(llm, USER("error-401"), NULL, &out), COG_EDENIED);
	ck_assert_error_has("Incorrect API key");
	ck_assert_msg(strstr(cog_error_last(), API_KEY) == NULL, "%s", cog_error_last());
	/* Streamed, mock-llm sends the error as the stream's one event. */
	call = (cog_llm_call)COG_LLM_CALL_INIT;
	call.on_event = collect;
	call.event_user_data = &ev;
	ck_assert_int_lt(cog_llm_backend_chat(llm, USER("error-429"), &call, &out), 0);
	ck_assert_ptr_null(out);
	ck_assert_error_has("Rate limit reached");
	ck_assert_int_eq(ev.text_events, 0);
	cog_llm_free(llm);
}
END_TEST

/* ---- the Anthropic provider ---- */

START_TEST(anthropic_messages)
{
	cog_llm *llm = provider(COG_LLM_ANTHROPIC, NULL, 0);
	char *out = NULL;

	ck_assert_cog(cog_llm_backend_chat(llm, USER("Hello Claude"), NULL, &out));
	cJSON *a = parsed(out);
	ck_assert_str_eq(content(a), "Hello Claude");
	ck_assert_str_eq(str_at(a, "finish_reason", NULL), "stop");
	ck_assert_str_eq(str_at(a, "model", NULL), "claude-mock");
	ck_assert_str_eq(str_at(a, "provider", NULL), "anthropic");
	ck_assert_double_eq(num_at(a, "usage", "output_tokens"), 1);
	cJSON_Delete(a);
	/* Key header, version, default max_tokens, system prompt apart. */
	ck_assert_cog(cog_llm_backend_chat(llm, "{\"messages\":[{\"role\":\"system\","
		"\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"whoami\"}]}",
		NULL, &out));
	a = parsed(out);
	ck_assert_str_eq(content(a), "key=ak-test-77b1 version=2023-06-01 max_tokens=4096 "
	                 "system=be brief");
	ck_assert_str_eq(str_at(a, "finish_reason", NULL), "length");
	ck_assert_double_eq(num_at(a, "usage", "output_tokens"), 6);
	ck_assert_double_eq(num_at(a, "usage", "cached_tokens"), 4);
	cJSON_Delete(a);
	ck_assert_cog(cog_llm_backend_chat(llm, "{\"messages\":[{\"role\":\"user\","
		"\"content\":\"weather in Paris?\"}],\"tools\":[{\"name\":\"get_weather\","
		"\"input_schema\":{\"type\":\"object\"}}]}", NULL, &out));
	a = parsed(out);
	ck_assert_str_eq(content(a), "Let me look.");
	expect_weather_call(a, "toolu_01");
	cJSON_Delete(a);
	ck_assert_int_eq(cog_llm_backend_chat(llm, USER("error-429"), NULL, &out), COG_EBUSY);
	ck_assert_error_has("per-minute rate limit");
	ck_assert_msg(strstr(cog_error_last(), ANTHROPIC_KEY) == NULL, "%s", cog_error_last());
	cog_llm_free(llm);
}
END_TEST

/* ---- the router over the provider ---- */

static void add_mock_endpoint(void)
{
	ck_assert_cog(cog_llm_add_endpoint(ctx, "mock", provider(COG_LLM_OPENAI, NULL, 0), NULL));
	ck_assert_cog(cog_llm_configure(ctx, "{\"retry\":{\"max_attempts\":3,\"base_ms\":5,"
		"\"cap_ms\":20},\"cache\":{\"enabled\":false}}"));
}

START_TEST(router_answers_and_streams)
{
	cog_llm_chat_options o = COG_LLM_CHAT_OPTIONS_INIT;
	events ev = { "", 0, 0, 0 };
	char *out = NULL;

	add_mock_endpoint();
	ck_assert_cog(cog_llm_chat(ctx, USER("routed hello"), NULL, &out));
	cJSON *a = parsed(out);
	ck_assert_str_eq(content(a), "routed hello");
	ck_assert_str_eq(str_at(a, "endpoint", NULL), "mock");
	ck_assert_double_eq(num_at(a, "attempts", NULL), 1);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(a, "cached")));
	cJSON_Delete(a);
	o.on_event = collect;
	o.event_user_data = &ev;
	ck_assert_cog(cog_llm_chat(ctx, USER(LONG_TEXT), &o, &out));
	a = parsed(out);
	ck_assert_str_eq(ev.text, LONG_TEXT);
	ck_assert_int_eq(ev.text_events, 9);
	ck_assert_int_eq(ev.retry_events + ev.other_events, 0);
	ck_assert_str_eq(content(a), LONG_TEXT);
	cJSON_Delete(a);
	ck_assert_cog(cog_llm_embed(ctx, NULL, "{\"input\":[\"a\",\"b\"]}", &out));
	a = parsed(out);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "data")), 2);
	cJSON_Delete(a);
}
END_TEST

START_TEST(router_retries_a_429_then_reports_it)
{
	char *out = NULL, *stats = NULL;

	add_mock_endpoint();
	/* Not streamed: mock-llm would send a streamed 429 as a 200 whose one
	 * event is the error. */
	ck_assert_int_eq(cog_llm_chat(ctx, USER("error-429"), NULL, &out), COG_EBUSY);
	ck_assert_ptr_null(out);
	ck_assert_error_has("Rate limit reached");
	ck_assert_error_has("3 attempts");
	ck_assert_cog(cog_llm_stats(ctx, &stats));
	cJSON *s = parsed(stats);
	ck_assert_double_eq(num_at(s, "retries", NULL), 2);
	cJSON *mock_ep = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "endpoints"), "mock");
	ck_assert_double_eq(num_at(mock_ep, "calls", NULL), 3);
	ck_assert_double_eq(num_at(mock_ep, "failures", NULL), 3);
	ck_assert_str_eq(str_at(mock_ep, "breaker", NULL), "closed");
	cJSON_Delete(s);
	/* The endpoint still answers (three failures stay under the breaker's
	 * default of five). */
	ck_assert_cog(cog_llm_chat(ctx, USER("after the storm"), NULL, &out));
	cJSON *a = parsed(out);
	ck_assert_str_eq(content(a), "after the storm");
	ck_assert_double_eq(num_at(a, "attempts", NULL), 1);
	cJSON_Delete(a);
}
END_TEST

/* ---- the peer helper itself ---- */

START_TEST(peer_failures_say_why)
{
	const char *missing[] = { "cog-no-such-program", NULL };
	const char *dies[] = { "/bin/sh", "-c", "echo boom on port $PORT; exit 3", NULL };
	peer_options o = { 0 };
	char path[1024];
	peer *p = NULL;

	o.name = "ghost";
	o.argv = missing;
	o.install_hint = "install the ghost";
	ck_assert_int_eq(peer_start(&p, &o), -1);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(peer_error(), "'cog-no-such-program' not found in PATH; install "
	                     "the ghost") != NULL, "%s", peer_error());
	o.name = "dies";
	o.argv = dies;
	tmp_dir_make("cog-peer-");
	o.log_path = tmp_file("dies.log");
	ck_assert_int_eq(peer_start(&p, &o), -1);
	ck_assert_msg(strstr(peer_error(), "exited with status 3") != NULL, "%s", peer_error());
	ck_assert_msg(strstr(peer_error(), "boom on port ") != NULL, "%s", peer_error());
	tmp_dir_remove();
	ck_assert_int_eq(peer_node_module(path, sizeof(path), "cog-no-such-package/x.js"), -1);
	ck_assert_msg(strstr(peer_error(), "npm ci --prefix tests/peers") != NULL, "%s",
	              peer_error());
	ck_assert(peer_alive(mock));
}
END_TEST

static Suite *mock_llm_suite(void)
{
	Suite *s = suite_create("mock-llm");
	TCase *tc = tcase_create("mock-llm");

	tcase_add_unchecked_fixture(tc, mock_start, mock_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, chat_echoes_the_message);
	tcase_add_test(tc, chat_sends_key_headers_and_parameters);
	tcase_add_test(tc, streamed_text_arrives_in_pieces);
	tcase_add_test(tc, tool_call_and_the_answer_after_it);
	tcase_add_test(tc, embeddings_in_input_order);
	tcase_add_test(tc, rate_limit_and_bad_key_are_mapped);
	tcase_add_test(tc, anthropic_messages);
	tcase_add_test(tc, router_answers_and_streams);
	tcase_add_test(tc, router_retries_a_429_then_reports_it);
	tcase_add_test(tc, peer_failures_say_why);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mock_llm_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
