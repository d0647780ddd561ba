/*
 * The Anthropic Messages provider over real libcurl against the scripted
 * loopback server: Anthropic's recorded streams served byte for byte (also
 * in 1..7-byte chunks), whole answers, the request body it sends, structured
 * output through a forced tool, and the errors (429, 529, error events).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "alloc_fail.h"
#include "llm_test.h"
#include "wire_file.h"

#define KEY "sk-ant-test-0123456789abcdef"

static cog_ctx *ctx;
static cog_llm *llm;
static ws_server *server;

static void setup(void)
{
	ctx = ctx_with_curl(NULL);
	server = start_wire_server();
	llm = provider_at(ctx, COG_LLM_ANTHROPIC, server, "/v1", KEY, "claude-test");
}

static void teardown(void)
{
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	ws_stop(server);
}

/* ---- helpers ---- */

/* A recorded .chunks.jsonl as the SSE stream it came from. */
static char *jsonl_to_sse(const char *name)
{
	char *jsonl = wire_file(name, NULL);
	char *sse = malloc(strlen(jsonl) * 2 + 4096);
	size_t len = 0;
	for (char *line = strtok(jsonl, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *ev = cJSON_Parse(line);
		ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(ev, "type")), "%s", line);
		len += (size_t)sprintf(sse + len, "event: %s\ndata: %s\n\n",
			cJSON_GetObjectItem(ev, "type")->valuestring, line);
		cJSON_Delete(ev);
	}
	free(jsonl);
	return sse;
}

static void push_stream(const char *body, size_t chunk_bytes)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", body);
	a.chunked = true;
	a.chunk_bytes = chunk_bytes;
	ck_assert_int_eq(ws_push(server, &a), 0);
}

/* One chat with the fixture's provider (llm_test.h). */
static int chat(const char *request, llm_events *events, cJSON **response, cog_llm_call *out)
{
	return chat_parsed(llm, request, events, response, out);
}

static const char *WEATHER =
	"{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\","
	"\"content\":\"Weather in SF?\"}],\"tools\":[{\"name\":\"get_weather\","
	"\"description\":\"Weather of a place\",\"input_schema\":{\"type\":\"object\","
	"\"properties\":{\"location\":{\"type\":\"string\"}}}}],\"max_tokens\":1024}";

/* ---- streams ---- */

START_TEST(test_stream_tool_use)
{
	char *sse = wire_file("anthropic_messages_stream_tool_use.sse", NULL);
	static const char text[] = "Okay, let's check the weather for San Francisco, CA:";
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		push_stream(sse, chunk);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_cog(chat(WEATHER, &ev, &r, NULL));
		assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
			"\"content\":\"Okay, let's check the weather for San Francisco, CA:\","
			"\"tool_calls\":[{\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
			"\"name\":\"get_weather\",\"arguments\":{\"location\":\"San Francisco, CA\","
			"\"unit\":\"fahrenheit\"}}]}");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "tool_calls");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring,
		                 "claude-sonnet-4-5-20250929");
		assert_json(cJSON_GetObjectItem(r, "usage"),
			"{\"input_tokens\":472,\"output_tokens\":89,\"cached_tokens\":0}");
		ck_assert_str_eq(ev.text, text);
		ck_assert_int_eq(ev.n_calls, 1);
		ck_assert_str_eq(ev.calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
		ck_assert_str_eq(ev.calls[0].name, "get_weather");
		ck_assert_str_eq(ev.calls[0].args,
			"{\"location\": \"San Francisco, CA\", \"unit\": \"fahrenheit\"}");
		/* 13 text pieces, the call's start and its 8 non-empty pieces. */
		ck_assert_int_eq(ev.events, 13 + 1 + 8);
		cJSON_Delete(r);
	}
	cJSON *body = sent_json(server, 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
	cJSON_Delete(body);
	free(sse);
}
END_TEST

START_TEST(test_recorded_tool_no_args)
{
	char *sse = jsonl_to_sse("anthropic-recorded/anthropic-tool-no-args.chunks.jsonl");
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		push_stream(sse, chunk);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_cog(chat(WEATHER, &ev, &r, NULL));
		assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
			"\"content\":\"I'll update the issue list for you.\",\"tool_calls\":"
			"[{\"id\":\"toolu_01QE1WLsSVp5hy5Q3GmGTmjP\",\"name\":\"updateIssueList\","
			"\"arguments\":{}}]}");
		assert_json(cJSON_GetObjectItem(r, "usage"),
			"{\"input_tokens\":565,\"output_tokens\":48,\"cached_tokens\":0}");
		ck_assert_str_eq(ev.calls[0].name, "updateIssueList");
		ck_assert_str_eq(ev.calls[0].args, "");
		cJSON_Delete(r);
	}
	free(sse);
}
END_TEST

START_TEST(test_recorded_json_tool)
{
	static const char json[] = "{\"elements\":[{\"location\":\"San Francisco\","
		"\"temperature\":58,\"condition\":\"sunny\"}]}";
	char *sse = jsonl_to_sse("anthropic-recorded/anthropic-json-tool.2.chunks.jsonl");
	/* Without structured output, "json" is a tool like any other. */
	push_stream(sse, 3);
	llm_events ev;
	cJSON *r = NULL;
	ck_assert_cog(chat(WEATHER, &ev, &r, NULL));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "message"), "content")
		->valuestring, "I'll invoke the JSON response tool.");
	assert_json(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(r, "message"), "tool_calls"), 0), "arguments"), json);
	cJSON_Delete(r);

	/* With it, the forced tool's input is the content, and nothing else. */
	static const char request[] = "{\"model\":\"claude-haiku-4-5\",\"messages\":[{"
		"\"role\":\"user\",\"content\":\"Weather?\"}],\"response_format\":{\"type\":"
		"\"json_schema\",\"json_schema\":{\"name\":\"json\",\"schema\":{\"type\":"
		"\"object\",\"properties\":{\"elements\":{\"type\":\"array\"}}}}}}";
	for (size_t chunk = 0; chunk <= 7; chunk += 7) {
		push_stream(sse, chunk);
		ck_assert_cog(chat(request, &ev, &r, NULL));
		assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
			"\"content\":\"{\\\"elements\\\":[{\\\"location\\\":\\\"San Francisco\\\","
			"\\\"temperature\\\":58,\\\"condition\\\":\\\"sunny\\\"}]}\"}");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "stop");
		assert_json(cJSON_GetObjectItem(r, "usage"),
			"{\"input_tokens\":849,\"output_tokens\":47,\"cached_tokens\":0}");
		ck_assert_str_eq(ev.text, json);
		ck_assert_int_eq(ev.n_calls, 0);
		ck_assert_int_eq(ev.events, 1);
		cJSON_Delete(r);
	}
	cJSON *body = sent_json(server, 1);
	assert_json(cJSON_GetObjectItem(body, "tools"), "[{\"name\":\"json\","
		"\"description\":\"Give your answer as this tool's input.\",\"input_schema\":"
		"{\"type\":\"object\",\"properties\":{\"elements\":{\"type\":\"array\"}}}}]");
	assert_json(cJSON_GetObjectItem(body, "tool_choice"), "{\"type\":\"tool\",\"name\":\"json\"}");
	cJSON_Delete(body);
	free(sse);
}
END_TEST

/* The event stream stops with the server's error, after what came before. */
START_TEST(test_error_event)
{
	static const char head[] =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
		"\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\","
		"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
	static const struct { const char *type; int code; } cases[] = {
		{ "overloaded_error", COG_EUNAVAILABLE },
		{ "invalid_request_error", COG_EPROTO },
	};
	for (size_t i = 0; i < 2; i++) {
		char sse[2048];
		snprintf(sse, sizeof(sse), "%sevent: error\ndata: {\"type\":\"error\",\"error\":"
			"{\"type\":\"%s\",\"message\":\"Overloaded now\"}}\n\n", head, cases[i].type);
		push_stream(sse, 5);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_int_eq(chat(WEATHER, &ev, &r, NULL), cases[i].code);
		ck_assert_ptr_null(r);
		ck_assert_msg(strstr(cog_error_last(), "Overloaded now") &&
		              strstr(cog_error_last(), cases[i].type), "%s", cog_error_last());
		ck_assert_str_eq(ev.text, "Hel");
	}
}
END_TEST

/* Pieces that contradict the stream's own structure are named. */
START_TEST(test_malformed_stream)
{
	static const char *const streams[] = {
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		"\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}\n\n",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\","
		"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		"\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
		/* cut short: no message_stop */
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
	};
	static const char *const words[] = { "block 2 never started", "event 1",
	                                     "not a tool_use block", "message_stop" };
	for (size_t i = 0; i < 4; i++) {
		push_stream(streams[i], 0);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_int_eq(chat(WEATHER, &ev, &r, NULL), COG_EPROTO);
		ck_assert_msg(strstr(cog_error_last(), words[i]) != NULL, "%s", cog_error_last());
	}
}
END_TEST

/* ---- whole answers and the request body ---- */

START_TEST(test_whole_answer_and_body)
{
	ws_answer a = ws_answer_body(200, NULL, "{\"id\":\"msg_1\",\"type\":\"message\","
		"\"role\":\"assistant\",\"model\":\"claude-test-1\",\"content\":[{\"type\":"
		"\"text\",\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"toolu_9\","
		"\"name\":\"get_weather\",\"input\":{\"location\":\"Oslo\"}}],\"stop_reason\":"
		"\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":100,"
		"\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":30,"
		"\"output_tokens\":15}}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	static const char request[] = "{\"model\":\"claude-sonnet-4-5\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Oslo and Bergen?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"toolu_1\",\"name\":\"get_weather\",\"arguments\":{\"location\":\"Oslo\"}},"
		"{\"id\":\"toolu_2\",\"name\":\"get_weather\",\"arguments\":{}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"rain\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":\"sun\"},"
		"{\"role\":\"system\",\"content\":\"Use Celsius.\"},"
		"{\"role\":\"user\",\"content\":\"And now?\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
		"\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"required\","
		"\"temperature\":1.5,\"stop\":\"END\",\"metadata\":{\"trace\":\"t1\"}}";
	cJSON *r = NULL;
	cog_llm_call call;
	ck_assert_cog(chat(request, NULL, &r, &call));
	ck_assert_int_eq(call.http_status, 200);
	ck_assert_int_eq(call.streamed, 0);
	assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
		"\"content\":\"Checking.\",\"tool_calls\":[{\"id\":\"toolu_9\",\"name\":"
		"\"get_weather\",\"arguments\":{\"location\":\"Oslo\"}}]}");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "tool_calls");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring, "claude-test-1");
	assert_json(cJSON_GetObjectItem(r, "usage"),
		"{\"input_tokens\":150,\"output_tokens\":15,\"cached_tokens\":30}");
	cJSON_Delete(r);

	char *head = ws_request(server, 0);
	ck_assert_msg(strncmp(head, "POST /v1/messages\n", 18) == 0, "%s", head);
	free(head);
	char *h = ws_request_header(server, 0, "x-api-key");
	ck_assert_str_eq(h, KEY);
	free(h);
	h = ws_request_header(server, 0, "anthropic-version");
	ck_assert_str_eq(h, "2023-06-01");
	free(h);
	ck_assert_ptr_null(ws_request_header(server, 0, "authorization"));
	cJSON *body = sent_json(server, 0);
	assert_json(body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
		"\"system\":\"Be brief.\\n\\nUse Celsius.\",\"messages\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
		"\"Weather in Oslo and Bergen?\"}]},"
		"{\"role\":\"assistant\",\"content\":["
		"{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
		"\"input\":{\"location\":\"Oslo\"}},"
		"{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_weather\",\"input\":{}}]},"
		"{\"role\":\"user\",\"content\":["
		"{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"rain\"},"
		"{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"sun\"},"
		"{\"type\":\"text\",\"text\":\"And now?\"}]}],"
		"\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],"
		"\"tool_choice\":{\"type\":\"any\"},\"temperature\":1,"
		"\"stop_sequences\":[\"END\"]}");
	cJSON_Delete(body);
}
END_TEST

START_TEST(test_tool_choice_and_stop_reasons)
{
	static const struct { const char *choice, *sent, *stop, *finish; } cases[] = {
		{ "\"none\"", "{\"type\":\"none\"}", "end_turn", "stop" },
		{ "\"auto\"", "{\"type\":\"auto\"}", "max_tokens", "length" },
		{ "{\"name\":\"get_weather\"}", "{\"type\":\"tool\",\"name\":\"get_weather\"}",
		  "stop_sequence", "stop" },
		{ "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}",
		  "{\"type\":\"tool\",\"name\":\"get_weather\"}", "refusal", "content_filter" },
	};
	for (unsigned int i = 0; i < 4; i++) {
		char answer[256], request[1024];
		snprintf(answer, sizeof(answer), "{\"content\":[{\"type\":\"text\",\"text\":"
			"\"ok\"}],\"stop_reason\":\"%s\",\"usage\":{\"input_tokens\":1,"
			"\"output_tokens\":1}}", cases[i].stop);
		ws_answer a = ws_answer_body(200, NULL, answer);
		ck_assert_int_eq(ws_push(server, &a), 0);
		snprintf(request, sizeof(request), "%.*s,\"tool_choice\":%s}",
			(int)strlen(WEATHER) - 1, WEATHER, cases[i].choice);
		cJSON *r = NULL;
		ck_assert_cog(chat(request, NULL, &r, NULL));
		ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring,
		                 cases[i].finish);
		cJSON_Delete(r);
		cJSON *body = sent_json(server, i);
		assert_json(cJSON_GetObjectItem(body, "tool_choice"), cases[i].sent);
		ck_assert_int_eq(cJSON_GetObjectItem(body, "max_tokens")->valueint, 1024);
		cJSON_Delete(body);
	}
}
END_TEST

START_TEST(test_structured_whole_answer)
{
	ws_answer a = ws_answer_body(200, NULL, "{\"model\":\"claude-x\",\"content\":["
		"{\"type\":\"text\",\"text\":\"Here:\"},{\"type\":\"tool_use\",\"id\":\"toolu_3\","
		"\"name\":\"city\",\"input\":{ \"name\" : \"Oslo\", \"pop\": 709000 }}],"
		"\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":9,\"output_tokens\":4}}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	cJSON *r = NULL;
	ck_assert_cog(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"Oslo?\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
		"\"name\":\"city\",\"schema\":{\"type\":\"object\",\"required\":[\"name\"]}}}}",
		NULL, &r, NULL));
	assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
		"\"content\":\"{\\\"name\\\":\\\"Oslo\\\",\\\"pop\\\":709000}\"}");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "stop");
	cJSON_Delete(r);

	/* json_object: a tool that takes any object. */
	ck_assert_int_eq(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"Oslo?\"}],\"response_format\":{\"type\":\"json_object\"}}", NULL, &r, NULL), 0);
	cJSON_Delete(r);
	cJSON *body = sent_json(server, 1);
	assert_json(cJSON_GetObjectItem(body, "tools"), "[{\"name\":\"json\",\"description\":"
		"\"Give your answer as this tool's input.\",\"input_schema\":{\"type\":\"object\"}}]");
	assert_json(cJSON_GetObjectItem(body, "tool_choice"), "{\"type\":\"tool\",\"name\":\"json\"}");
	cJSON_Delete(body);
}
END_TEST

/* ---- HTTP errors ---- */

START_TEST(test_http_errors)
{
	ws_answer a = ws_answer_body(429, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
		"\"rate_limit_error\",\"message\":\"Number of request tokens has exceeded "
		"your per-minute rate limit\"}}");
	a.extra_headers = "retry-after: 7\r\n";
	ck_assert_int_eq(ws_push(server, &a), 0);
	cJSON *r = NULL;
	cog_llm_call call;
	ck_assert_int_eq(chat(WEATHER, NULL, &r, &call), COG_EBUSY);
	ck_assert_int_eq(call.http_status, 429);
	ck_assert_uint_eq(call.retry_after_ms, 7000);
	ck_assert_msg(strstr(cog_error_last(), "per-minute rate limit") &&
	              !strstr(cog_error_last(), KEY), "%s", cog_error_last());

	a = ws_answer_body(529, NULL, "{\"type\":\"error\",\"error\":{\"type\":"
		"\"overloaded_error\",\"message\":\"Overloaded\"}}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	llm_events ev;
	ck_assert_int_eq(chat(WEATHER, &ev, &r, &call), COG_EUNAVAILABLE);
	ck_assert_int_eq(call.http_status, 529);
	ck_assert_int_eq(call.streamed, 0);
	ck_assert_msg(strstr(cog_error_last(), "Overloaded"), "%s", cog_error_last());
}
END_TEST

/* Requests the format cannot say are refused before anything is sent. */
START_TEST(test_refused_requests)
{
	cJSON *r = NULL;
	ck_assert_int_eq(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
		"\"content\":\"only a system prompt\"}]}", NULL, &r, NULL), COG_EINVAL);
	ck_assert_int_eq(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"x\"}],\"tools\":[{\"name\":\"out\",\"input_schema\":{}}],\"response_format\":"
		"{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"out\",\"schema\":{}}}}",
		NULL, &r, NULL), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "\"out\""), "%s", cog_error_last());
	/* Anthropic has no embeddings endpoint. */
	char *text = NULL;
	ck_assert_int_eq(cog_llm_backend_embed(llm, "{\"model\":\"m\",\"input\":[\"x\"]}",
		NULL, &text), COG_EUNAVAILABLE);
	ck_assert_ptr_null(text);
	ck_assert_uint_eq(ws_requests(server), 0);
}
END_TEST

/* ---- errors inside a 200, empty events, round trips ---- */

#define LOCAL_KEY "local-7Qx93LmzA1b2c3d4"   /* no pattern redaction knows */

START_TEST(test_error_event_status)
{
	/* An overload or a server error in a 200 stream is a 503 for the
	 * router (it retries those); another error is not (the stream was
	 * stopped before the transport reported a status). */
	static const struct { const char *type; int code, http; } cases[] = {
		{ "overloaded_error", COG_EUNAVAILABLE, 503 },
		{ "api_error", COG_EUNAVAILABLE, 503 },
		{ "invalid_request_error", COG_EPROTO, 0 },
	};
	cog_llm_free(llm);
	llm = provider_at(ctx, COG_LLM_ANTHROPIC, server, "/v1", LOCAL_KEY, "claude-test");
	for (size_t i = 0; i < 3; i++) {
		char sse[1024];
		snprintf(sse, sizeof(sse), "event: message_start\ndata: {\"type\":\"message_start\","
			"\"message\":{\"model\":\"claude-x\"}}\n\n"
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"%s\","
			"\"message\":\"failed for key %s\"}}\n\n", cases[i].type, LOCAL_KEY);
		push_stream(sse, 7);
		llm_events ev;
		cJSON *r = NULL;
		cog_llm_call call;
		ck_assert_int_eq(chat(WEATHER, &ev, &r, &call), cases[i].code);
		ck_assert_int_eq(call.http_status, cases[i].http);
		/* The key the provider quoted back is masked. */
		ck_assert_msg(strstr(cog_error_last(), "failed for key ****") &&
		              !strstr(cog_error_last(), "local-7Qx9"), "%s", cog_error_last());
		ws_reset(server);
	}
}
END_TEST

START_TEST(test_empty_data_events)
{
	/* "data:" alone is a legal event with data "" (here also as a ping). */
	push_stream("data:\n\n"
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
		"{\"model\":\"claude-x\"}}\n\n"
		"event: ping\ndata:\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\","
		"\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
		"data:\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		"\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", 4);
	llm_events ev;
	cJSON *r = NULL;
	ck_assert_cog(chat(WEATHER, &ev, &r, NULL));
	ck_assert_str_eq(ev.text, "Hi");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "message"), "content")
		->valuestring, "Hi");
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_arguments_text_round_trip)
{
	/* A call whose arguments were not an object (as a response gives it)
	 * goes back with an empty input: Anthropic wants an object. */
	ws_answer a = ws_answer_body(200, NULL, "{\"content\":[{\"type\":\"text\","
		"\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"}");
	ck_assert_int_eq(ws_push(server, &a), 0);
	cJSON *r = NULL;
	ck_assert_cog(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"Weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
		"\"toolu_1\",\"name\":\"get_weather\",\"arguments\":null,\"arguments_text\":"
		"\"{\\\"location\\\":\"}]},{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\","
		"\"content\":\"bad arguments\"}]}", NULL, &r, NULL));
	cJSON_Delete(r);
	cJSON *body = sent_json(server, 0);
	assert_json(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 1),
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\","
		"\"name\":\"get_weather\",\"input\":{}}]}");
	cJSON_Delete(body);
}
END_TEST

/* ---- out of memory ---- */

/* Every part of the body: system, text, tool calls (one with arguments
 * that were not an object), tool results, tools, structured output (a
 * forced tool and tool_choice), stop sequences. */
static const char OOM_REQUEST[] = "{\"model\":\"m\",\"messages\":["
	"{\"role\":\"system\",\"content\":\"Be brief.\"},"
	"{\"role\":\"user\",\"content\":\"Weather?\"},"
	"{\"role\":\"assistant\",\"content\":\"Looking.\",\"tool_calls\":["
	"{\"id\":\"t1\",\"name\":\"get_weather\",\"arguments\":{\"location\":\"Oslo\"}},"
	"{\"id\":\"t2\",\"name\":\"get_weather\",\"arguments\":null,\"arguments_text\":\"{\"}]},"
	"{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"rain\"},"
	"{\"role\":\"tool\",\"tool_call_id\":\"t2\",\"content\":\"bad\"}],"
	"\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}},"
	"{\"name\":\"now\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
	"{\"name\":\"answer\",\"schema\":{\"type\":\"object\"}}},\"stop\":[\"END\"]}";

/* A fresh context and provider, then one chat with the failure armed.
 * Any status will do as long as a failure says why. */
static void oom_run(long fail_at, void *user_data)
{
	(void)user_data;
	cog_ctx *c = ctx_with_curl(NULL);
	cog_llm *l = provider_at(c, COG_LLM_ANTHROPIC, server, "/v1", KEY, NULL);
	cog_error_clear();
	char *text = NULL;
	alloc_fail_arm();
	int rc = cog_llm_backend_chat(l, OOM_REQUEST, NULL, &text);
	alloc_fail_disarm();
	alloc_fail_check(rc, text, fail_at);
	cog_free(text);
	cog_llm_free(l);
	cog_ctx_free(c);
}

/* Adding an item to an object copies its key: when that copy fails, the
 * item must be freed, not leaked. Every allocation of a key's size (the
 * body's keys are 5 to 15 bytes with their NUL) is failed in turn; after
 * each run the live blocks are back to what they were. */
START_TEST(test_out_of_memory_body)
{
	alloc_fail_install();
	server = start_wire_server();
	ws_answer answer = ws_answer_body(200, NULL, "{\"content\":[{\"type\":\"text\","
		"\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"}");
	ck_assert_int_eq(ws_push(server, &answer), 0);    /* reused for every request */
	long total = 0;
	for (size_t size = 5; size <= 15; size++)
		total += alloc_fail_each(size, oom_run, NULL, NULL);
	printf("anthropic: %ld allocations of 5 to 15 bytes failed in turn\n", total);
	ws_stop(server);
	server = NULL;
}
END_TEST

static Suite *anthropic_suite(void)
{
	Suite *s = suite_create("llm-anthropic");
	TCase *tc = tcase_create("wire");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stream_tool_use);
	tcase_add_test(tc, test_recorded_tool_no_args);
	tcase_add_test(tc, test_recorded_json_tool);
	tcase_add_test(tc, test_error_event);
	tcase_add_test(tc, test_malformed_stream);
	tcase_add_test(tc, test_whole_answer_and_body);
	tcase_add_test(tc, test_tool_choice_and_stop_reasons);
	tcase_add_test(tc, test_structured_whole_answer);
	tcase_add_test(tc, test_http_errors);
	tcase_add_test(tc, test_refused_requests);
	tcase_add_test(tc, test_error_event_status);
	tcase_add_test(tc, test_empty_data_events);
	tcase_add_test(tc, test_arguments_text_round_trip);
	suite_add_tcase(s, tc);
	alloc_fail_add_tcase(s, test_out_of_memory_body);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(anthropic_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
