/*
 * The Ollama provider over real libcurl against the scripted loopback
 * server: Ollama's documented /api/chat stream and tool-call answer served
 * byte for byte (the stream also in 1..7-byte chunks), a streamed tool
 * call, the request body (tools, options, "format" for structured output),
 * /api/embed, an error line in the middle of a stream, and a 404.
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

static cog_ctx *ctx;
static cog_llm *llm;
static ws_server *server;

static void setup(void)
{
	ctx = ctx_with_curl(NULL);
	server = start_wire_server();
	llm = provider_at(ctx, COG_LLM_OLLAMA, server, "", NULL, "llama3.2");
}

static void teardown(void)
{
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	ws_stop(server);
}

/* ---- helpers ---- */

static void push(int status, const char *content_type, const char *body, size_t chunk)
{
	ws_answer a = ws_answer_body(status, content_type, body);
	a.chunked = chunk > 0;
	a.chunk_bytes = chunk;
	ck_assert_int_eq(ws_push(server, &a), 0);
}

/* One chat with the fixture's provider (llm_test.h). */
static int chat(const char *request, llm_events *events, cJSON **response)
{
	return chat_parsed(llm, request, events, response, NULL);
}

static const char *HELLO = "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
	"\"content\":\"Why is the sky blue?\"}]}";

/* ---- tests ---- */

START_TEST(test_stream_recorded)
{
	char *ndjson = wire_file("ollama_api_chat_stream.ndjson", NULL);
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		push(200, "application/x-ndjson", ndjson, chunk);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_cog(chat(HELLO, &ev, &r));
		assert_json(cJSON_GetObjectItem(r, "message"),
			"{\"role\":\"assistant\",\"content\":\"The\"}");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "stop");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring, "llama3.2");
		assert_json(cJSON_GetObjectItem(r, "usage"),
			"{\"input_tokens\":26,\"output_tokens\":282,\"cached_tokens\":0}");
		ck_assert_str_eq(ev.text, "The");
		ck_assert_int_eq(ev.events, 1);
		cJSON_Delete(r);
	}
	char *head = ws_request(server, 0);
	ck_assert_msg(strncmp(head, "POST /api/chat\n", 15) == 0, "%s", head);
	free(head);
	cJSON *body = sent_json(server, 0);
	assert_json(body, "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"Why is the sky blue?\"}],\"stream\":true}");
	cJSON_Delete(body);
	free(ndjson);
}
END_TEST

START_TEST(test_tool_call_recorded)
{
	char *json = wire_file("ollama_api_chat_tool_call_nonstream.json", NULL);
	push(200, NULL, json, 0);
	static const char request[] = "{\"model\":\"llama3.2\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris and Oslo?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_0\",\"name\":\"get_current_weather\",\"arguments\":"
		"{\"location\":\"Oslo\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"12 C\"}],"
		"\"tools\":[{\"name\":\"get_current_weather\",\"description\":\"Weather\","
		"\"input_schema\":{\"type\":\"object\",\"properties\":{\"location\":"
		"{\"type\":\"string\"}}}}],\"temperature\":0,\"max_tokens\":100,"
		"\"stop\":[\"END\"]}";
	cJSON *r = NULL;
	ck_assert_cog(chat(request, NULL, &r));
	assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
		"\"content\":null,\"tool_calls\":[{\"id\":\"call_0\",\"name\":"
		"\"get_current_weather\",\"arguments\":{\"format\":\"celsius\","
		"\"location\":\"Paris, FR\"}}]}");
	ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "tool_calls");
	assert_json(cJSON_GetObjectItem(r, "usage"),
		"{\"input_tokens\":122,\"output_tokens\":33,\"cached_tokens\":0}");
	cJSON_Delete(r);
	ck_assert_ptr_null(ws_request_header(server, 0, "authorization"));
	cJSON *body = sent_json(server, 0);
	assert_json(body, "{\"model\":\"llama3.2\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris and Oslo?\"},"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
		"{\"name\":\"get_current_weather\",\"arguments\":{\"location\":\"Oslo\"}}}]},"
		"{\"role\":\"tool\",\"content\":\"12 C\",\"tool_name\":\"get_current_weather\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_current_weather\","
		"\"description\":\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
		"{\"location\":{\"type\":\"string\"}}}}}],\"stream\":false,"
		"\"options\":{\"temperature\":0,\"num_predict\":100,\"stop\":[\"END\"]}}");
	cJSON_Delete(body);
	free(json);
}
END_TEST

START_TEST(test_stream_tool_call)
{
	static const char ndjson[] =
		"{\"model\":\"qwen3\",\"created_at\":\"2025-05-27T10:00:00Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"Let me look.\"},\"done\":false}\n"
		"{\"model\":\"qwen3\",\"created_at\":\"2025-05-27T10:00:01Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
		"{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},\"done\":false}\n"
		"{\"model\":\"qwen3\",\"created_at\":\"2025-05-27T10:00:02Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":"
		"{\"name\":\"get_time\",\"arguments\":{}}}]},\"done\":false}\n"
		"{\"model\":\"qwen3\",\"created_at\":\"2025-05-27T10:00:03Z\",\"message\":"
		"{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,"
		"\"prompt_eval_count\":40,\"eval_count\":12}\n";
	for (size_t chunk = 0; chunk <= 7; chunk += 7) {
		push(200, "application/x-ndjson", ndjson, chunk);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_cog(chat(HELLO, &ev, &r));
		assert_json(cJSON_GetObjectItem(r, "message"), "{\"role\":\"assistant\","
			"\"content\":\"Let me look.\",\"tool_calls\":["
			"{\"id\":\"call_0\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}},"
			"{\"id\":\"call_1\",\"name\":\"get_time\",\"arguments\":{}}]}");
		ck_assert_str_eq(cJSON_GetObjectItem(r, "finish_reason")->valuestring, "tool_calls");
		ck_assert_str_eq(ev.text, "Let me look.");
		ck_assert_int_eq(ev.n_calls, 2);
		ck_assert_str_eq(ev.calls[0].id, "call_0");
		ck_assert_str_eq(ev.calls[0].name, "get_weather");
		ck_assert_str_eq(ev.calls[0].args, "{\"city\":\"Paris\"}");
		ck_assert_str_eq(ev.calls[1].args, "{}");
		cJSON_Delete(r);
	}
}
END_TEST

START_TEST(test_format)
{
	push(200, NULL, "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\","
		"\"content\":\"{\\\"age\\\": 22}\"},\"done_reason\":\"stop\",\"done\":true}", 0);
	cJSON *r = NULL;
	ck_assert_cog(chat("{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"Age?\"}],\"response_format\":{\"type\":\"json_schema\","
		"\"json_schema\":{\"name\":\"age\",\"schema\":{\"type\":\"object\","
		"\"properties\":{\"age\":{\"type\":\"integer\"}}}}},\"tool_choice\":\"none\","
		"\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\"}}]}", NULL, &r));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "message"), "content")
		->valuestring, "{\"age\": 22}");
	cJSON_Delete(r);
	ck_assert_cog(chat("{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"Age?\"}],\"response_format\":{\"type\":\"json_object\"}}", NULL, &r));
	cJSON_Delete(r);
	cJSON *body = sent_json(server, 0);
	assert_json(cJSON_GetObjectItem(body, "format"), "{\"type\":\"object\","
		"\"properties\":{\"age\":{\"type\":\"integer\"}}}");
	ck_assert_ptr_null(cJSON_GetObjectItem(body, "tools"));
	cJSON_Delete(body);
	body = sent_json(server, 1);
	assert_json(cJSON_GetObjectItem(body, "format"), "\"json\"");
	cJSON_Delete(body);
}
END_TEST

START_TEST(test_embed)
{
	push(200, NULL, "{\"model\":\"all-minilm\",\"embeddings\":[[0.010071029,"
		"-0.0017594862,0.05007221],[-0.0098027075,0.06042469,0.025257962]],"
		"\"total_duration\":14143917,\"load_duration\":1019500,"
		"\"prompt_eval_count\":8}", 0);
	char *text = NULL;
	ck_assert_cog(cog_llm_backend_embed(llm, "{\"model\":\"all-minilm\",\"input\":"
		"[\"Why is the sky blue?\",\"Why is the grass green?\"]}", NULL, &text));
	cJSON *r = cJSON_Parse(text);
	cog_free(text);
	ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring, "all-minilm");
	ck_assert_int_eq(cJSON_GetObjectItem(r, "dimensions")->valueint, 3);
	assert_json(cJSON_GetObjectItem(r, "data"), "[[0.010071029,-0.0017594862,"
		"0.05007221],[-0.0098027075,0.06042469,0.025257962]]");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "usage"),
		"input_tokens")->valueint, 8);
	cJSON_Delete(r);
	char *head = ws_request(server, 0);
	ck_assert_msg(strncmp(head, "POST /api/embed\n", 16) == 0, "%s", head);
	free(head);
	cJSON *body = sent_json(server, 0);
	assert_json(body, "{\"model\":\"all-minilm\",\"input\":[\"Why is the sky blue?\","
		"\"Why is the grass green?\"]}");
	cJSON_Delete(body);
}
END_TEST

START_TEST(test_error_line)
{
	push(200, "application/x-ndjson",
		"{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
		"\"done\":false}\n{\"error\":\"an error was encountered while running the "
		"model: unexpected EOF\"}\n", 4);
	llm_events ev;
	cJSON *r = NULL;
	ck_assert_int_eq(chat(HELLO, &ev, &r), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "unexpected EOF") &&
	              strstr(cog_error_last(), "line 2"), "%s", cog_error_last());
	ck_assert_str_eq(ev.text, "Hel");

	push(200, "application/x-ndjson", "{\"message\":{\"content\":\"x\"},\"done\":false}\n"
		"{\"message\":\"oops\",\"done\":false}\n", 0);
	ck_assert_int_eq(chat(HELLO, &ev, &r), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "line 2"), "%s", cog_error_last());
	push(200, "application/x-ndjson", "{\"message\":{\"content\":\"x\"},\"done\":fal\n", 0);
	ck_assert_int_eq(chat(HELLO, &ev, &r), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "line 1"), "%s", cog_error_last());
}
END_TEST

START_TEST(test_model_not_found)
{
	/* Streamed too: the error body reads as an error line, and the
	 * status decides. */
	for (int streamed = 0; streamed < 2; streamed++) {
		push(404, NULL, "{\"error\":\"model \\\"nope\\\" not found, try pulling it "
			"first\"}", 0);
		llm_events ev;
		cJSON *r = NULL;
		ck_assert_int_eq(chat("{\"model\":\"nope\",\"messages\":[{\"role\":\"user\","
			"\"content\":\"hi\"}]}", streamed ? &ev : NULL, &r), COG_EINVAL);
		ck_assert_msg(strstr(cog_error_last(), "model \"nope\" not found, try pulling "
			"it first"), "%s", cog_error_last());
		if (streamed)
			ck_assert_int_eq(ev.events, 0);
	}
}
END_TEST

/* ---- errors inside a 200, embedding options, round trips ---- */

#define LOCAL_KEY "local-7Qx93LmzA1b2c3d4"   /* no pattern redaction knows */

/* A chat with a provider that has LOCAL_KEY; call filled. */
static int keyed_chat(const char *request, bool stream, cog_llm_call *call)
{
	cog_llm *keyed = provider_at(ctx, COG_LLM_OLLAMA, server, "", LOCAL_KEY, NULL);
	llm_events ev;
	cJSON *r = NULL;
	int rc = chat_parsed(keyed, request, stream ? &ev : NULL, &r, call);
	cJSON_Delete(r);
	cog_llm_free(keyed);
	return rc;
}

START_TEST(test_error_inside_200)
{
	/* A server failing inside a 200 (a stream line or a whole answer) is a
	 * 503 for the router, which retries those; the key it quoted is
	 * masked. */
	for (int stream = 0; stream < 2; stream++) {
		push(200, stream ? "application/x-ndjson" : NULL, stream ?
			"{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n"
			"{\"error\":\"server busy (key " LOCAL_KEY ")\"}\n" :
			"{\"error\":\"server busy (key " LOCAL_KEY ")\"}", 0);
		cog_llm_call call;
		ck_assert_int_eq(keyed_chat(HELLO, stream, &call), COG_EUNAVAILABLE);
		ck_assert_int_eq(call.http_status, 503);
		ck_assert_msg(strstr(cog_error_last(), "server busy (key ****") &&
		              !strstr(cog_error_last(), "local-7Qx9"), "%s", cog_error_last());
		ws_reset(server);
	}
	/* An error status says what it says, streamed or not. */
	for (int stream = 0; stream < 2; stream++) {
		push(404, NULL, "{\"error\":\"model \\\"nope\\\" not found\"}", 0);
		cog_llm_call call;
		ck_assert_int_eq(keyed_chat(HELLO, stream, &call), COG_EINVAL);
		ck_assert_int_eq(call.http_status, 404);
		ws_reset(server);
	}
}
END_TEST

START_TEST(test_embed_dimensions)
{
	push(200, NULL, "{\"model\":\"all-minilm\",\"embeddings\":[[0.5,0.25]]}", 0);
	char *text = NULL;
	ck_assert_cog(cog_llm_backend_embed(llm, "{\"model\":\"all-minilm\",\"input\":\"x\","
		"\"dimensions\":2,\"user\":\"u-1\"}", NULL, &text));
	cog_free(text);
	cJSON *body = sent_json(server, 0);
	/* Ollama takes dimensions; it has no user. */
	assert_json(body, "{\"model\":\"all-minilm\",\"input\":[\"x\"],\"dimensions\":2}");
	cJSON_Delete(body);
}
END_TEST

START_TEST(test_arguments_text_round_trip)
{
	/* A call whose arguments were not an object (as a response gives it)
	 * goes back with empty arguments: Ollama wants an object. */
	push(200, NULL, "{\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"done\":true}", 0);
	cJSON *r = NULL;
	ck_assert_cog(chat("{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"Weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
		"\"call_0\",\"name\":\"get_weather\",\"arguments\":null,\"arguments_text\":"
		"\"{\\\"city\\\":\"}]},{\"role\":\"tool\",\"tool_call_id\":\"call_0\","
		"\"content\":\"bad arguments\"}]}", NULL, &r));
	cJSON_Delete(r);
	cJSON *body = sent_json(server, 0);
	assert_json(cJSON_GetObjectItem(body, "messages"), "[{\"role\":\"user\",\"content\":"
		"\"Weather?\"},{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
		"{\"function\":{\"name\":\"get_weather\",\"arguments\":{}}}]},{\"role\":\"tool\","
		"\"content\":\"bad arguments\",\"tool_name\":\"get_weather\"}]");
	cJSON_Delete(body);
}
END_TEST

/* ---- out of memory ---- */

/* Every part of the chat body: tool calls, a tool message, tools (one
 * without a schema), structured output ("format"), options and stop. */
static const char OOM_CHAT[] = "{\"model\":\"llama3.2\",\"messages\":["
	"{\"role\":\"user\",\"content\":\"Weather?\"},"
	"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	"{\"id\":\"c0\",\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]},"
	"{\"role\":\"tool\",\"tool_call_id\":\"c0\",\"content\":\"rain\"}],"
	"\"tools\":[{\"name\":\"get_weather\",\"description\":\"d\",\"input_schema\":"
	"{\"type\":\"object\"}},{\"name\":\"now\"}],\"response_format\":{\"type\":"
	"\"json_schema\",\"json_schema\":{\"name\":\"a\",\"schema\":{\"type\":\"object\"}}},"
	"\"temperature\":0.5,\"max_tokens\":9,\"stop\":[\"END\"]}";
static const char OOM_EMBED[] = "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\"],"
	"\"dimensions\":2}";

/* A fresh context and provider, then one chat and one embedding request
 * with the failure armed. Any status will do as long as a failure says
 * why. */
static void oom_run(long fail_at, void *user_data)
{
	(void)user_data;
	cog_ctx *c = ctx_with_curl(NULL);
	cog_llm *l = provider_at(c, COG_LLM_OLLAMA, server, "", NULL, NULL);
	for (int embed = 0; embed < 2; embed++) {
		cog_error_clear();
		char *text = NULL;
		alloc_fail_arm();
		int rc = embed ? cog_llm_backend_embed(l, OOM_EMBED, NULL, &text)
		               : cog_llm_backend_chat(l, OOM_CHAT, NULL, &text);
		alloc_fail_disarm();
		alloc_fail_check(rc, text, fail_at);
		cog_free(text);
	}
	cog_llm_free(l);
	cog_ctx_free(c);
}

/* Adding an item to an object copies its key: when that copy fails, the
 * item must be freed, not leaked. Every allocation of a key's size (5 to
 * 15 bytes with the NUL) is failed in turn; after each run the live blocks
 * are back to what they were. */
START_TEST(test_out_of_memory_body)
{
	alloc_fail_install();
	server = start_wire_server();
	/* Reused for every request; the chat answer is also an embedding
	 * answer (and the other way round) for the parts each reads. */
	push(200, NULL, "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":"
		"\"ok\"},\"done\":true,\"embeddings\":[[0.5,0.25],[0.1,0.2]],"
		"\"prompt_eval_count\":3}", 0);
	long total = 0;
	for (size_t size = 5; size <= 15; size++)
		total += alloc_fail_each(size, oom_run, NULL, NULL);
	printf("ollama: %ld allocations of 5 to 15 bytes failed in turn\n", total);
	ws_stop(server);
	server = NULL;
}
END_TEST

static Suite *ollama_suite(void)
{
	Suite *s = suite_create("llm-ollama");
	TCase *tc = tcase_create("wire");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stream_recorded);
	tcase_add_test(tc, test_tool_call_recorded);
	tcase_add_test(tc, test_stream_tool_call);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_embed);
	tcase_add_test(tc, test_error_line);
	tcase_add_test(tc, test_model_not_found);
	tcase_add_test(tc, test_error_inside_200);
	tcase_add_test(tc, test_embed_dimensions);
	tcase_add_test(tc, test_arguments_text_round_trip);
	suite_add_tcase(s, tc);
	alloc_fail_add_tcase(s, test_out_of_memory_body);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ollama_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
