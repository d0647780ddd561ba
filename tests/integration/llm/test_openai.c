/*
 * The OpenAI chat completions provider over real libcurl against the
 * scripted loopback server: the recorded parallel-tool-call stream served
 * byte for byte (also in 1..7-byte chunks), whole answers, the request it
 * sends (body mapping, headers, the key kept out of logs and messages), the
 * errors (HTTP statuses, a cut stream, a malformed chunk, the size cap,
 * cancellation) and embeddings.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include <cognition.h>

#include "llm_test.h"
#include "wire_file.h"

#define KEY "sk-test-openai-5f2c9a7e41d8b3"
#define RECORDED "openai_chat_stream_parallel_tool_calls.sse"

static cog_ctx *ctx;
static cog_llm *llm;
static ws_server *server;

static cog_llm *make_provider(const char *base, size_t max_bytes)
{
	static const char *const extra[] = { "X-Team: llm-tests" };
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.provider = COG_LLM_OPENAI;
	o.base_url = base;
	o.api_key = KEY;
	o.model = "gpt-4o-mini";
	o.headers = extra;
	o.header_count = 1;
	o.max_response_bytes = max_bytes;
	cog_llm *made = NULL;
	ck_assert_cog(cog_llm_provider_new(&made, ctx, &o));
	return made;
}

static void setup(void)
{
	/* Every log line, for the tests that look for the key. */
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.log_level = COG_LOG_TRACE;
	co.log_fn = log_keep;
	ctx = ctx_with_curl(&co);
	server = start_wire_server();
	char base[96];
	snprintf(base, sizeof(base), "%s/v1/", ws_url(server));   /* slash dropped */
	llm = make_provider(base, 0);
}

static void teardown(void)
{
	cog_llm_free(llm);
	cog_ctx_free(ctx);
	ws_stop(server);
	log_forget();
}

/* ---- helpers ---- */

static void push(int status, const char *content_type, const char *body,
                 const char *extra_headers)
{
	ws_answer a = ws_answer_body(status, content_type, body);
	a.extra_headers = extra_headers;
	ck_assert_int_eq(ws_push(server, &a), 0);
}

static void push_stream(const char *body, size_t chunk_bytes)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", body);
	a.chunked = true;
	a.chunk_bytes = chunk_bytes;
	ck_assert_int_eq(ws_push(server, &a), 0);
}

/* Every event, one per line. */
typedef struct seen {
	char *text;
	size_t len;
	int events;
} seen;

static int on_event(const char *json, size_t len, void *user_data)
{
	seen *s = user_data;
	ck_assert_uint_eq(strlen(json), len);
	s->text = realloc(s->text, s->len + len + 2);
	memcpy(s->text + s->len, json, len);
	s->len += len;
	s->text[s->len++] = '\n';
	s->text[s->len] = '\0';
	s->events++;
	return 0;
}

/* A call whose events go to s (none when s is NULL). */
static cog_llm_call call_with_events(seen *s)
{
	cog_llm_call call = COG_LLM_CALL_INIT;
	if (s) {
		call.on_event = on_event;
		call.event_user_data = s;
	}
	return call;
}

static const char *const USER_REQUEST =
	"{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in SF?\"}]}";

/* Chat through the public API; *response parsed (NULL on failure). */
static int chat(const char *request, cog_llm_call *call, cJSON **response)
{
	char *text = NULL;
	int rc = cog_llm_backend_chat(llm, request, call, &text);
	*response = text ? cJSON_Parse(text) : NULL;
	if (!rc)
		ck_assert_ptr_nonnull(*response);
	cog_free(text);
	return rc;
}

static const char *str_at(const cJSON *root, const char *path)
{
	/* "a.b.0.c" */
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", path);
	const cJSON *at = root;
	for (char *part = strtok(copy, "."); part && at; part = strtok(NULL, "."))
		at = cJSON_IsArray(at) ? cJSON_GetArrayItem(at, atoi(part))
		                       : cJSON_GetObjectItemCaseSensitive(at, part);
	return cJSON_GetStringValue(at);
}

static double num_at(const cJSON *root, const char *a, const char *b)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, a);
	if (b)
		at = cJSON_GetObjectItemCaseSensitive(at, b);
	ck_assert_msg(cJSON_IsNumber(at), "%s.%s is not a number", a, b ? b : "");
	return at->valuedouble;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- the recorded stream ---- */

/* What the recorded file says, worked out here from its data lines with
 * cJSON: the calls (id, name, concatenated arguments) and the events a
 * streaming caller must see. */
typedef struct recorded {
	char id[2][64], name[2][64], args[2][512];
	char events[8192];
} recorded;

static void expect_from_file(recorded *r)
{
	memset(r, 0, sizeof(*r));
	char *file = wire_file(RECORDED, NULL);
	for (char *line = strtok(file, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "data: {", 7) != 0)
			continue;
		cJSON *chunk = cJSON_Parse(line + 6);
		const cJSON *calls = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
			cJSON_GetObjectItem(chunk, "choices"), 0), "delta"), "tool_calls");
		const cJSON *frag;
		cJSON_ArrayForEach(frag, calls) {
			int i = cJSON_GetObjectItem(frag, "index")->valueint;
			ck_assert(i == 0 || i == 1);
			const cJSON *fn = cJSON_GetObjectItem(frag, "function");
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(frag, "id"));
			const char *args = cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments"));
			cJSON *ev = cJSON_CreateObject();
			cJSON_AddStringToObject(ev, "type", "tool_call");
			cJSON_AddNumberToObject(ev, "index", i);
			if (id) {
				snprintf(r->id[i], 64, "%s", id);
				snprintf(r->name[i], 64, "%s",
					cJSON_GetStringValue(cJSON_GetObjectItem(fn, "name")));
				cJSON_AddStringToObject(ev, "id", id);
				cJSON_AddStringToObject(ev, "name", r->name[i]);
				cJSON_AddStringToObject(ev, "arguments", "");
				char *t = cJSON_PrintUnformatted(ev);
				strcat(strcat(r->events, t), "\n");
				free(t);
				cJSON_Delete(ev);
				ev = cJSON_CreateObject();
				cJSON_AddStringToObject(ev, "type", "tool_call");
				cJSON_AddNumberToObject(ev, "index", i);
			}
			if (args && *args) {
				strcat(r->args[i], args);
				cJSON_AddStringToObject(ev, "arguments", args);
				char *t = cJSON_PrintUnformatted(ev);
				strcat(strcat(r->events, t), "\n");
				free(t);
			}
			cJSON_Delete(ev);
		}
		cJSON_Delete(chunk);
	}
	free(file);
}

/* The recorded stream served with chunk_bytes (0: whole body): the answer
 * and the events must be exactly what the file says. */
static void check_recorded(size_t chunk_bytes, const recorded *r)
{
	char *file = wire_file(RECORDED, NULL);
	push_stream(file, chunk_bytes);
	free(file);
	seen s = { NULL, 0, 0 };
	cog_llm_call call = call_with_events(&s);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, &call, &resp));
	ck_assert_int_eq(call.streamed, 1);
	ck_assert_int_eq(call.http_status, 200);
	ck_assert_str_eq(str_at(resp, "finish_reason"), "tool_calls");
	ck_assert_str_eq(str_at(resp, "model"), "gpt-4o-mini-2024-07-18");
	ck_assert_str_eq(str_at(resp, "provider"), "openai");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "message"), "content")));
	const cJSON *calls = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "message"), "tool_calls");
	ck_assert_int_eq(cJSON_GetArraySize(calls), 2);
	for (int i = 0; i < 2; i++) {
		const cJSON *c = cJSON_GetArrayItem(calls, i);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "id")), r->id[i]);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")), r->name[i]);
		cJSON *want = cJSON_Parse(r->args[i]);
		ck_assert_ptr_nonnull(want);
		ck_assert_msg(cJSON_Compare(want, cJSON_GetObjectItem(c, "arguments"), true),
			"call %d: arguments differ from %s", i, r->args[i]);
		cJSON_Delete(want);
	}
	ck_assert_str_eq(s.text, r->events);
	ck_assert_int_eq(s.events, 8);
	cJSON_Delete(resp);
	free(s.text);
	ws_reset(server);
}

START_TEST(test_recorded_parallel_tool_calls)
{
	recorded r;
	expect_from_file(&r);
	/* The file's facts, stated once by hand as well. */
	ck_assert_str_eq(r.id[0], "call_pv0MOGlxgvBQlk3j6BFOg85Z");
	ck_assert_str_eq(r.name[0], "getCurrentTemperature");
	ck_assert_str_eq(r.id[1], "call_nf6JwIChkn3z0iuCy7QWWo4M");
	ck_assert_str_eq(r.name[1], "getRainProbability");
	ck_assert_str_eq(r.args[1], "{\"location\": \"San Francisco, CA\"}");
	check_recorded(0, &r);
}
END_TEST

START_TEST(test_recorded_split_everywhere)
{
	recorded r;
	expect_from_file(&r);
	for (size_t n = 1; n <= 7; n++)
		check_recorded(n, &r);
}
END_TEST

START_TEST(test_stream_text_and_usage)
{
	const char *stream =
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\","
		"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
		"\"finish_reason\":null}],\"usage\":null}\n\n"
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\","
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}],"
		"\"usage\":null}\n\n"
		": keep-alive comment\n\n"
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\","
		"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\\"w\\u00f6rld\\\"\\n\"},"
		"\"finish_reason\":null}]}\r\n\r\n"
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\","
		"\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m-1\","
		"\"choices\":[],\"usage\":{\"prompt_tokens\":21,\"completion_tokens\":3,"
		"\"total_tokens\":24,\"prompt_tokens_details\":{\"cached_tokens\":16}}}\n\n"
		"data: [DONE]\n\n";
	push_stream(stream, 5);
	seen s = { NULL, 0, 0 };
	cog_llm_call call = call_with_events(&s);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, &call, &resp));
	ck_assert_str_eq(s.text,
		"{\"type\":\"text\",\"text\":\"Hel\"}\n"
		"{\"type\":\"text\",\"text\":\"lo \\\"wörld\\\"\\n\"}\n");
	ck_assert_str_eq(str_at(resp, "message.content"), "Hello \"wörld\"\n");
	ck_assert_str_eq(str_at(resp, "finish_reason"), "length");
	ck_assert_double_eq(num_at(resp, "usage", "input_tokens"), 21);
	ck_assert_double_eq(num_at(resp, "usage", "output_tokens"), 3);
	ck_assert_double_eq(num_at(resp, "usage", "cached_tokens"), 16);
	ck_assert(num_at(resp, "latency_ms", NULL) >= 0);
	cJSON_Delete(resp);
	free(s.text);

	/* What was asked for: a stream with usage, the key as a bearer token. */
	char *body = ws_request_body(server, 0);
	cJSON *sent = cJSON_Parse(body);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(sent, "stream")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(sent, "stream_options"),
		"include_usage")));
	cJSON_Delete(sent);
	free(body);
	char *accept = ws_request_header(server, 0, "accept");
	ck_assert_str_eq(accept, "text/event-stream");
	free(accept);
}
END_TEST

START_TEST(test_stream_answered_whole)
{
	/* A server that ignores "stream": the whole answer, as events too. */
	push(200, "application/json; charset=utf-8",
		"{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		"\"content\":\"All at once\"},\"finish_reason\":\"stop\"}],"
		"\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}", NULL);
	seen s = { NULL, 0, 0 };
	cog_llm_call call = call_with_events(&s);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, &call, &resp));
	ck_assert_str_eq(s.text, "{\"type\":\"text\",\"text\":\"All at once\"}\n");
	ck_assert_str_eq(str_at(resp, "message.content"), "All at once");
	ck_assert_double_eq(num_at(resp, "usage", "output_tokens"), 3);
	cJSON_Delete(resp);
	free(s.text);

	/* An error status with a body the stream reader chokes on: the
	 * status decides. */
	ws_reset(server);
	push(400, "text/event-stream", "data: {\"error\":{\"message\":\"no such model\"}}\n\n",
		NULL);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(chat(USER_REQUEST, &call, &resp), COG_EINVAL);
	ck_assert_int_eq(call.http_status, 400);
	ck_assert_int_eq(s.events, 0);
	ck_assert_msg(strstr(cog_error_last(), "HTTP 400") && strstr(cog_error_last(),
		"no such model"), "%s", cog_error_last());
}
END_TEST

/* ---- whole answers ---- */

START_TEST(test_whole_text_answer)
{
	push(200, NULL,
		"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
		"\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
		"{\"role\":\"assistant\",\"content\":\"Hello!\",\"refusal\":null},"
		"\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
		"\"completion_tokens\":3,\"total_tokens\":15,\"prompt_tokens_details\":"
		"{\"cached_tokens\":8,\"audio_tokens\":0}}}", NULL);
	cog_llm_call call = COG_LLM_CALL_INIT;
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, &call, &resp));
	ck_assert_int_eq(call.streamed, 0);
	ck_assert_int_eq(call.http_status, 200);
	ck_assert_str_eq(str_at(resp, "message.role"), "assistant");
	ck_assert_str_eq(str_at(resp, "message.content"), "Hello!");
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "message"), "tool_calls"));
	ck_assert_str_eq(str_at(resp, "finish_reason"), "stop");
	ck_assert_double_eq(num_at(resp, "usage", "input_tokens"), 12);
	ck_assert_double_eq(num_at(resp, "usage", "output_tokens"), 3);
	ck_assert_double_eq(num_at(resp, "usage", "cached_tokens"), 8);
	ck_assert_str_eq(str_at(resp, "model"), "gpt-4o-mini-2024-07-18");
	ck_assert_str_eq(str_at(resp, "provider"), "openai");
	cJSON_Delete(resp);
	char *accept = ws_request_header(server, 0, "accept");
	ck_assert_str_eq(accept, "application/json");
	free(accept);
	char *body = ws_request_body(server, 0);
	cJSON *sent = cJSON_Parse(body);
	ck_assert_ptr_null(cJSON_GetObjectItem(sent, "stream"));
	ck_assert_str_eq(str_at(sent, "model"), "gpt-4o-mini");   /* the default */
	cJSON_Delete(sent);
	free(body);
}
END_TEST

START_TEST(test_whole_tool_calls)
{
	push(200, NULL,
		"{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
		"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
		"\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":"
		"{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
		"{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"now\","
		"\"arguments\":\"\"}},"
		"{\"id\":\"call_c\",\"type\":\"function\",\"function\":{\"name\":\"bad\","
		"\"arguments\":\"{\\\"x\\\":\"}}]},"
		"\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":40,"
		"\"completion_tokens\":20}}", NULL);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, NULL, &resp));
	const cJSON *message = cJSON_GetObjectItem(resp, "message");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(message, "content")));
	ck_assert_str_eq(str_at(resp, "message.tool_calls.0.id"), "call_a");
	ck_assert_str_eq(str_at(resp, "message.tool_calls.0.name"), "get_weather");
	ck_assert_str_eq(str_at(resp, "message.tool_calls.0.arguments.city"), "Paris");
	const cJSON *calls = cJSON_GetObjectItem(message, "tool_calls");
	const cJSON *b = cJSON_GetArrayItem(calls, 1);
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(b, "arguments")));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "arguments")), 0);
	const cJSON *c = cJSON_GetArrayItem(calls, 2);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "arguments")));
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(c, "arguments_text")), "{\"x\":");
	ck_assert_str_eq(str_at(resp, "finish_reason"), "tool_calls");
	ck_assert_double_eq(num_at(resp, "usage", "cached_tokens"), 0);
	cJSON_Delete(resp);
}
END_TEST

/* ---- the request ---- */

START_TEST(test_request_mapping)
{
	push(200, NULL, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		"\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}", NULL);
	const char *request =
		"{\"model\":\"gpt-4.1\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
		"\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"days\":2}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp\\\":21}\"}],"
		"\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather by city\","
		"\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
		"\"required\":[\"city\"]}}],"
		"\"tool_choice\":{\"name\":\"get_weather\"},"
		"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"answer\","
		"\"schema\":{\"type\":\"object\"},\"strict\":true}},"
		"\"temperature\":0.2,\"top_p\":0.9,\"max_tokens\":300,\"stop\":\"END\",\"seed\":7,"
		"\"user\":\"u-1\",\"metadata\":{\"trace\":\"t-1\"}}";
	cJSON *resp = NULL;
	ck_assert_cog(chat(request, NULL, &resp));
	cJSON_Delete(resp);

	char *head = ws_request(server, 0);
	ck_assert_msg(strncmp(head, "POST /v1/chat/completions\n", 26) == 0, "%s", head);
	free(head);
	char *auth = ws_request_header(server, 0, "authorization");
	ck_assert_str_eq(auth, "Bearer " KEY);
	free(auth);
	char *ct = ws_request_header(server, 0, "content-type");
	ck_assert_str_eq(ct, "application/json");
	free(ct);
	char *team = ws_request_header(server, 0, "x-team");
	ck_assert_str_eq(team, "llm-tests");
	free(team);

	char *body = ws_request_body(server, 0);
	cJSON *sent = cJSON_Parse(body);
	free(body);
	ck_assert_ptr_nonnull(sent);
	cJSON *want = cJSON_Parse(
		"{\"model\":\"gpt-4.1\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
		"\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":2}\"}}]},"
		"{\"role\":\"tool\",\"content\":\"{\\\"temp\\\":21}\",\"tool_call_id\":\"call_1\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
		"\"description\":\"Weather by city\",\"parameters\":{\"type\":\"object\","
		"\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
		"\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
		"\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"answer\","
		"\"schema\":{\"type\":\"object\"},\"strict\":true}},"
		"\"temperature\":0.2,\"top_p\":0.9,\"max_tokens\":300,\"stop\":[\"END\"],\"seed\":7,"
		"\"user\":\"u-1\"}");
	char *got = cJSON_PrintUnformatted(sent);
	ck_assert_msg(cJSON_Compare(want, sent, true), "sent %s", got);
	free(got);
	cJSON_Delete(want);
	cJSON_Delete(sent);
}
END_TEST

START_TEST(test_tool_choice_strings)
{
	static const char *const modes[] = { "auto", "none", "required" };
	push(200, NULL, "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}", NULL);
	for (int i = 0; i < 3; i++) {
		char request[512];
		snprintf(request, sizeof(request),
			"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
			"\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],"
			"\"tool_choice\":\"%s\",\"response_format\":{\"type\":\"json_object\"}}",
			modes[i]);
		cJSON *resp = NULL;
		ck_assert_cog(chat(request, NULL, &resp));
		cJSON_Delete(resp);
		char *body = ws_request_body(server, (unsigned int)i);
		cJSON *sent = cJSON_Parse(body);
		free(body);
		ck_assert_str_eq(str_at(sent, "tool_choice"), modes[i]);
		ck_assert_str_eq(str_at(sent, "response_format.type"), "json_object");
		ck_assert_str_eq(str_at(sent, "tools.0.type"), "function");
		cJSON_Delete(sent);
	}
}
END_TEST

START_TEST(test_key_kept_out)
{
	/* A provider that quotes the key back: the message must not. */
	push(401, NULL, "{\"error\":{\"message\":\"Incorrect API key provided: " KEY
		". You can find your API key at https://platform.openai.com/account/api-keys.\","
		"\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}",
		NULL);
	cog_llm_call call = COG_LLM_CALL_INIT;
	cJSON *resp = NULL;
	ck_assert_int_eq(chat(USER_REQUEST, &call, &resp), COG_EDENIED);
	ck_assert_int_eq(call.http_status, 401);
	const char *msg = cog_error_last();
	ck_assert_msg(strstr(msg, "openai: HTTP 401: Incorrect API key provided") != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, KEY) == NULL, "%s", msg);
	ck_assert_msg(strstr(msg, "5f2c9a7e41d8b3") == NULL, "%s", msg);

	push(200, NULL, "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}", NULL);
	ck_assert_cog(chat(USER_REQUEST, NULL, &resp));
	cJSON_Delete(resp);

	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(llm, &desc));
	ck_assert_msg(strstr(desc, "\"backend\":\"openai\"") != NULL, "%s", desc);
	ck_assert_msg(strstr(desc, "/v1\"") != NULL, "%s", desc);
	ck_assert_msg(strstr(desc, "5f2c9a7e41d8b3") == NULL, "%s", desc);
	cog_free(desc);

	/* Logged: a debug line per request, never the key. */
	char *log = log_kept();
	ck_assert_msg(log[0] != '\0', "nothing was logged");
	ck_assert_msg(strstr(log, "openai: chat POST") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "5f2c9a7e41d8b3") == NULL, "%s", log);
	ck_assert_msg(strstr(log, "Bearer") == NULL, "%s", log);
	free(log);
}
END_TEST

/* ---- errors ---- */

static int status_of(int http, const char *extra_headers, bool stream, cog_llm_call *call)
{
	push(http, NULL, "{\"error\":{\"message\":\"provider says no\",\"type\":\"x\"}}",
		extra_headers);
	seen s = { NULL, 0, 0 };
	*call = call_with_events(stream ? &s : NULL);
	cJSON *resp = NULL;
	int rc = chat(USER_REQUEST, call, &resp);
	ck_assert_ptr_null(resp);
	ck_assert_int_eq(s.events, 0);
	free(s.text);
	ck_assert_msg(strstr(cog_error_last(), "provider says no") != NULL, "%s",
		cog_error_last());
	ck_assert_int_eq(call->http_status, http);
	ws_reset(server);
	return rc;
}

START_TEST(test_http_errors)
{
	cog_llm_call call;
	for (int stream = 0; stream < 2; stream++) {
		ck_assert_int_eq(status_of(400, NULL, stream, &call), COG_EINVAL);
		ck_assert_int_eq(status_of(401, NULL, stream, &call), COG_EDENIED);
		ck_assert_int_eq(status_of(404, NULL, stream, &call), COG_EINVAL);
		ck_assert_int_eq(status_of(429, "Retry-After: 2\r\n", stream, &call), COG_EBUSY);
		ck_assert_uint_eq(call.retry_after_ms, 2000);
		ck_assert_int_eq(status_of(429, "retry-after-ms: 1500\r\nRetry-After: 2\r\n",
			stream, &call), COG_EBUSY);
		ck_assert_uint_eq(call.retry_after_ms, 1500);
		ck_assert_int_eq(status_of(503, NULL, stream, &call), COG_EUNAVAILABLE);
		ck_assert_uint_eq(call.retry_after_ms, 0);
		ck_assert_int_eq(status_of(500, NULL, stream, &call), COG_EUNAVAILABLE);
	}
	/* Not JSON at all: the start of the body is the message. */
	push(502, "text/html", "<html>Bad gateway</html>", NULL);
	cJSON *resp = NULL;
	ck_assert_int_eq(chat(USER_REQUEST, NULL, &resp), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "HTTP 502: <html>Bad gateway</html>"),
		"%s", cog_error_last());
}
END_TEST

static int stream_answer(const char *body, long close_after, seen *s)
{
	ws_answer a = ws_answer_body(200, "text/event-stream", body);
	a.chunked = true;
	a.chunk_bytes = 64;
	a.close_after = close_after;
	ck_assert_int_eq(ws_push(server, &a), 0);
	cog_llm_call call = call_with_events(s);
	cJSON *resp = NULL;
	int rc = chat(USER_REQUEST, &call, &resp);
	ck_assert_ptr_null(resp);
	ws_reset(server);
	return rc;
}

START_TEST(test_stream_faults)
{
	size_t len = 0;
	char *file = wire_file(RECORDED, &len);
	seen s = { NULL, 0, 0 };
	/* Cut in the middle. */
	ck_assert_int_eq(stream_answer(file, (long)len / 2, &s), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "openai: stream ended before [DONE] after"),
		"%s", cog_error_last());
	ck_assert_int_gt(s.events, 0);
	/* Whole, but without [DONE]. */
	char *cut = strstr(file, "data: [DONE]");
	*cut = '\0';
	ck_assert_int_eq(stream_answer(file, -1, &s), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "openai: stream ended before [DONE] after 10 events"),
		"%s", cog_error_last());
	free(file);

	/* A malformed chunk: named by its number. */
	ck_assert_int_eq(stream_answer(
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}\n\n"
		"data: [DONE]\n\n", -1, &s), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "openai: stream: chunk 2: data: invalid JSON"),
		"%s", cog_error_last());
	/* A tool-call fragment the format does not allow. */
	ck_assert_int_eq(stream_answer(
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1,"
		"\"id\":\"x\",\"function\":{\"name\":\"f\"}}]}}]}\n\n"
		"data: [DONE]\n\n", -1, &s), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(),
		"chunk 1: choices[0].delta.tool_calls[0].index"), "%s", cog_error_last());
	/* The server gives up mid-stream. */
	ck_assert_int_eq(stream_answer(
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
		"data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n",
		-1, &s), COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "chunk 2: the server reported an error: "
		"The server had an error"), "%s", cog_error_last());
	free(s.text);
}
END_TEST

START_TEST(test_size_cap)
{
	char base[96];
	snprintf(base, sizeof(base), "%s/v1", ws_url(server));
	cog_llm_free(llm);
	llm = make_provider(base, 1000);
	char *file = wire_file(RECORDED, NULL);
	for (int stream = 0; stream < 2; stream++) {
		push_stream(file, 100);
		seen s = { NULL, 0, 0 };
		cog_llm_call call = call_with_events(stream ? &s : NULL);
		cJSON *resp = NULL;
		ck_assert_int_eq(chat(USER_REQUEST, &call, &resp), COG_ERANGE);
		ck_assert_msg(strstr(cog_error_last(), "openai: answer larger than the 1000-byte cap"),
			"%s", cog_error_last());
		free(s.text);
		ws_reset(server);
	}
	free(file);
}
END_TEST

/* Cancel from another thread once the first piece of text arrived. */
typedef struct canceler {
	atomic_int started;
	double canceled_at;
} canceler;

static canceler cancel_state;

static int on_first_text(const char *json, size_t len, void *user_data)
{
	(void)json; (void)len; (void)user_data;
	atomic_store(&cancel_state.started, 1);
	return 0;
}

static void *cancel_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&cancel_state.started))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	nanosleep(&(struct timespec){ 0, 30000000 }, NULL);   /* well into the drip */
	cancel_state.canceled_at = now_ms();
	cog_ctx_cancel(ctx);
	return NULL;
}

START_TEST(test_cancel_mid_stream)
{
	ws_answer a = ws_answer_body(200, "text/event-stream",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"thinking\"}}]}\n\n");
	a.drip = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	atomic_store(&cancel_state.started, 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_thread, NULL), 0);
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = on_first_text;
	cJSON *resp = NULL;
	int rc = chat(USER_REQUEST, &call, &resp);
	double returned = now_ms();
	pthread_join(t, NULL);
	ck_assert_int_eq(rc, COG_ECANCELED);
	ck_assert_msg(strstr(cog_error_last(), "openai"), "%s", cog_error_last());
	double waited = returned - cancel_state.canceled_at;
	printf("openai: canceled mid-stream, returned after %.1f ms\n", waited);
	ck_assert_msg(waited >= 0 && waited < 100, "returned %.1f ms after the cancel", waited);
	cog_ctx_reset_cancel(ctx);
}
END_TEST

START_TEST(test_transport_errors)
{
	/* A port nobody listens on: take one from a server and stop it. */
	ws_server *gone = NULL;
	ck_assert_int_eq(ws_start(&gone), 0);
	char base[96];
	snprintf(base, sizeof(base), "%s/v1", ws_url(gone));
	ws_stop(gone);
	cog_llm_free(llm);
	llm = make_provider(base, 0);
	cJSON *resp = NULL;
	ck_assert_int_eq(chat(USER_REQUEST, NULL, &resp), COG_EUNAVAILABLE);
	ck_assert_msg(strncmp(cog_error_last(), "openai: ", 8) == 0, "%s", cog_error_last());

	/* A request without a model and a provider without a default. */
	cog_llm_free(llm);
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.base_url = base;
	o.api_key = KEY;
	ck_assert_cog(cog_llm_provider_new(&llm, ctx, &o));
	ck_assert_int_eq(chat(USER_REQUEST, NULL, &resp), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "no model"), "%s", cog_error_last());
}
END_TEST

START_TEST(test_options)
{
	cog_llm *bad = NULL;
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.base_url = "ftp://example.com";
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	o.base_url = "http://";
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	o.base_url = "http://127.0.0.1:1/v1";
	static const char *const crlf[] = { "X-A: b\r\nX-Evil: 1" };
	o.headers = crlf;
	o.header_count = 1;
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	static const char *const nameless[] = { ": value" };
	o.headers = nameless;
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	o.headers = NULL;
	o.header_count = 0;
	o.provider = 7;
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	o.provider = COG_LLM_OPENAI;
	o.version = 99;
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EVERSION);
	ck_assert_ptr_null(bad);

	/* From the environment. */
	cog_llm_provider_options e;
	ck_assert_cog(cog_llm_provider_options_init(&e, COG_LLM_PROVIDER_OPTIONS_VERSION));
	setenv("COG_LLM_PROVIDER", "anthropic", 1);
	setenv("COG_LLM_URL", "http://127.0.0.1:9/v1", 1);
	setenv("COG_MODEL", "claude-x", 1);
	unsetenv("COG_API_KEY");
	setenv("ANTHROPIC_API_KEY", "sk-ant-from-env", 1);
	setenv("OPENAI_API_KEY", "sk-openai-from-env", 1);
	ck_assert_cog(cog_llm_provider_options_from_env(&e));
	ck_assert_int_eq(e.provider, COG_LLM_ANTHROPIC);
	ck_assert_str_eq(e.base_url, "http://127.0.0.1:9/v1");
	ck_assert_str_eq(e.model, "claude-x");
	ck_assert_str_eq(e.api_key, "sk-ant-from-env");
	setenv("COG_API_KEY", "sk-cog", 1);
	ck_assert_cog(cog_llm_provider_options_from_env(&e));
	ck_assert_str_eq(e.api_key, "sk-cog");
	setenv("COG_LLM_PROVIDER", "gemini", 1);
	ck_assert_int_eq(cog_llm_provider_options_from_env(&e), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "COG_LLM_PROVIDER=\"gemini\""), "%s",
		cog_error_last());
	ck_assert_int_eq(e.provider, COG_LLM_ANTHROPIC);
	unsetenv("COG_LLM_PROVIDER");
	unsetenv("COG_LLM_URL");
	unsetenv("COG_MODEL");
	unsetenv("COG_API_KEY");
	unsetenv("ANTHROPIC_API_KEY");

	/* A key from OPENAI_API_KEY when the options have none. */
	char base[96];
	snprintf(base, sizeof(base), "%s/v1", ws_url(server));
	cog_llm_provider_options d = COG_LLM_PROVIDER_OPTIONS_INIT;
	d.base_url = base;
	d.model = "m";
	cog_llm *envkey = NULL;
	ck_assert_cog(cog_llm_provider_new(&envkey, ctx, &d));
	unsetenv("OPENAI_API_KEY");
	push(200, NULL, "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}", NULL);
	char *text = NULL;
	ck_assert_cog(cog_llm_backend_chat(envkey, USER_REQUEST, NULL, &text));
	cog_free(text);
	char *auth = ws_request_header(server, 0, "authorization");
	ck_assert_str_eq(auth, "Bearer sk-openai-from-env");
	free(auth);
	cog_llm_free(envkey);
}
END_TEST

/* ---- embeddings ---- */

START_TEST(test_embeddings)
{
	push(200, NULL,
		"{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,"
		"\"embedding\":[0.3,-0.4,0.5]},{\"object\":\"embedding\",\"index\":0,"
		"\"embedding\":[0.1,0.2,-0.25]}],\"model\":\"text-embedding-3-small\","
		"\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}", NULL);
	char *text = NULL;
	ck_assert_cog(cog_llm_backend_embed(llm, "{\"model\":\"text-embedding-3-small\","
		"\"input\":[\"first\",\"second\"]}", NULL, &text));
	cJSON *resp = cJSON_Parse(text);
	cog_free(text);
	cJSON *want = cJSON_Parse("[[0.1,0.2,-0.25],[0.3,-0.4,0.5]]");
	ck_assert(cJSON_Compare(want, cJSON_GetObjectItem(resp, "data"), true));
	cJSON_Delete(want);
	ck_assert_double_eq(num_at(resp, "dimensions", NULL), 3);
	ck_assert_double_eq(num_at(resp, "usage", "input_tokens"), 5);
	ck_assert_str_eq(str_at(resp, "model"), "text-embedding-3-small");
	cJSON_Delete(resp);
	char *head = ws_request(server, 0);
	ck_assert_msg(strncmp(head, "POST /v1/embeddings\n", 20) == 0, "%s", head);
	free(head);
	char *body = ws_request_body(server, 0);
	ck_assert_str_eq(body, "{\"model\":\"text-embedding-3-small\",\"input\":[\"first\",\"second\"]}");
	free(body);

	/* The request's dimensions and user go along. */
	ws_reset(server);
	push(200, NULL, "{\"data\":[{\"index\":0,\"embedding\":[0.1,0.2]}]}", NULL);
	ck_assert_cog(cog_llm_backend_embed(llm, "{\"model\":\"text-embedding-3-small\","
		"\"input\":\"one\",\"dimensions\":2,\"user\":\"user-42\"}", NULL, &text));
	cog_free(text);
	body = ws_request_body(server, 0);
	ck_assert_str_eq(body, "{\"model\":\"text-embedding-3-small\",\"input\":[\"one\"],"
		"\"dimensions\":2,\"user\":\"user-42\"}");
	free(body);

	/* A vector missing: the answer does not fit the request. */
	ws_reset(server);
	push(200, NULL, "{\"data\":[{\"index\":0,\"embedding\":[0.1]},"
		"{\"index\":0,\"embedding\":[0.2]}]}", NULL);
	ck_assert_int_eq(cog_llm_backend_embed(llm, "{\"input\":[\"a\",\"b\"]}", NULL, &text),
		COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), "data[1].index"), "%s", cog_error_last());
}
END_TEST

/* ---- timeouts, lost connections, errors inside a 200 ---- */

/* A provider of this test's server with these options' key and timeout. */
static cog_llm *provider_with(cog_ctx *c, const char *key, unsigned int timeout_ms)
{
	char base[96];
	snprintf(base, sizeof(base), "%s/v1", ws_url(server));
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.base_url = base;
	o.api_key = key;
	o.model = "m";
	o.timeout_ms = timeout_ms;
	cog_llm *made = NULL;
	ck_assert_cog(cog_llm_provider_new(&made, c, &o));
	return made;
}

/* A chat to `with` whose answer comes after 1.5 s, the call allowing
 * call_timeout_ms: the status and how long it took. */
static int slow_chat(cog_llm *with, unsigned int call_timeout_ms, double *took_ms)
{
	ws_answer a = ws_answer_body(200, NULL,
		"{\"choices\":[{\"message\":{\"content\":\"late\"}}]}");
	a.delay_ms = 1500;
	a.once = true;
	ck_assert_int_eq(ws_push(server, &a), 0);
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.timeout_ms = call_timeout_ms;
	char *text = NULL;
	double t0 = now_ms();
	int rc = cog_llm_backend_chat(with, USER_REQUEST, &call, &text);
	*took_ms = now_ms() - t0;
	cog_free(text);
	ws_reset(server);
	return rc;
}

START_TEST(test_request_timeout)
{
	/* The router's deadline (10 s left) is longer than the provider's
	 * per-request timeout (300 ms): a hung endpoint times out after 300 ms,
	 * so the router can move on. */
	double took = 0;
	cog_llm *quick = provider_with(ctx, KEY, 300);
	ck_assert_int_eq(slow_chat(quick, 10000, &took), COG_ETIMEOUT);
	ck_assert_msg(took >= 250 && took < 1200, "timed out after %.0f ms", took);
	/* The deadline shorter than the provider's timeout: the deadline. */
	cog_llm *patient = provider_with(ctx, KEY, 10000);
	ck_assert_int_eq(slow_chat(patient, 300, &took), COG_ETIMEOUT);
	ck_assert_msg(took >= 250 && took < 1200, "timed out after %.0f ms", took);
	/* Long enough for both: the answer. */
	ck_assert_int_eq(slow_chat(patient, 5000, &took), 0);
	cog_llm_free(quick);
	cog_llm_free(patient);

	/* A provider without a timeout of its own takes the context's. */
	cog_ctx_options co = COG_CTX_OPTIONS_INIT;
	co.http_timeout_ms = 300;
	cog_ctx *short_ctx = ctx_with_curl(&co);
	cog_llm *by_ctx = provider_with(short_ctx, KEY, 0);
	ck_assert_int_eq(slow_chat(by_ctx, 10000, &took), COG_ETIMEOUT);
	ck_assert_msg(took >= 250 && took < 1200, "timed out after %.0f ms", took);
	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(by_ctx, &desc));
	ck_assert_msg(strstr(desc, "\"timeout_ms\":300") != NULL, "%s", desc);
	cog_free(desc);
	cog_llm_free(by_ctx);
	cog_ctx_free(short_ctx);
}
END_TEST

/* A listener that takes one connection, reads the start of the request
 * and resets the connection (SO_LINGER 0) without a byte of answer. */
typedef struct resetter {
	int fd;
	unsigned short port;
} resetter;

static void *reset_one(void *arg)
{
	resetter *r = arg;
	struct pollfd p = { r->fd, POLLIN, 0 };
	if (poll(&p, 1, 10000) != 1)
		return NULL;
	int c = accept(r->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char buf[4096];
	p.fd = c;
	if (poll(&p, 1, 5000) == 1)
		(void)!recv(c, buf, sizeof(buf), 0);
	struct linger l = { 1, 0 };
	setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c);
	return NULL;
}

START_TEST(test_connection_reset)
{
	resetter r;
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(r.fd, 0);
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(addr);
	ck_assert_int_eq(bind(r.fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(r.fd, 4), 0);
	ck_assert_int_eq(getsockname(r.fd, (struct sockaddr *)&addr, &alen), 0);
	r.port = ntohs(addr.sin_port);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, reset_one, &r), 0);
	char base[96];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", r.port);
	cog_llm_free(llm);
	llm = make_provider(base, 0);
	cog_llm_call call = COG_LLM_CALL_INIT;
	cJSON *resp = NULL;
	int rc = chat(USER_REQUEST, &call, &resp);
	pthread_join(t, NULL);
	close(r.fd);
	/* Not a hard failure: the router may try again or elsewhere. */
	ck_assert_msg(rc == COG_EUNAVAILABLE, "%d %s", rc, cog_error_last());
	ck_assert_msg(strstr(cog_error_last(), "openai: connection lost"), "%s",
		cog_error_last());
	ck_assert_int_eq(call.http_status, 0);
}
END_TEST

#define LOCAL_KEY "local-7Qx93LmzA1b2c3d4"   /* no pattern redaction knows */

/* A chat with `with` answered by body (a stream when stream): the status,
 * call filled, and the message checked to hold no part of LOCAL_KEY. */
static int quoting_chat(cog_llm *with, const char *content_type, const char *body,
                        bool stream, cog_llm_call *call)
{
	push(200, content_type, body, NULL);
	seen s = { NULL, 0, 0 };
	*call = call_with_events(stream ? &s : NULL);
	char *text = NULL;
	int rc = cog_llm_backend_chat(with, USER_REQUEST, call, &text);
	ck_assert_ptr_null(text);
	free(s.text);
	ck_assert_msg(strstr(cog_error_last(), "local-7Qx9") == NULL, "%s", cog_error_last());
	ws_reset(server);
	return rc;
}

START_TEST(test_error_inside_200)
{
	cog_llm *local = provider_with(ctx, LOCAL_KEY, 0);
	cog_llm_call call;
	/* A whole answer that reports the server's failure. */
	ck_assert_int_eq(quoting_chat(local, NULL, "{\"error\":{\"message\":\"upstream "
		"overloaded for key " LOCAL_KEY "\",\"type\":\"server_error\"}}", false, &call),
		COG_EUNAVAILABLE);
	ck_assert_int_eq(call.http_status, 503);
	ck_assert_msg(strstr(cog_error_last(), "upstream overloaded for key ****"), "%s",
		cog_error_last());
	/* The same as a stream chunk, after some text. */
	ck_assert_int_eq(quoting_chat(local, "text/event-stream",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
		"data: {\"error\":{\"message\":\"overloaded (" LOCAL_KEY ")\"}}\n\n", true, &call),
		COG_EUNAVAILABLE);
	ck_assert_int_eq(call.http_status, 503);
	ck_assert_int_eq(call.streamed, 1);
	/* An "error" event (some compatible servers). */
	ck_assert_int_eq(quoting_chat(local, "text/event-stream",
		"event: error\ndata: {\"error\":\"busy, key " LOCAL_KEY "\"}\n\n", true, &call),
		COG_EUNAVAILABLE);
	ck_assert_int_eq(call.http_status, 503);
	/* The key where the provider's words are cut: no start of it stays. */
	char body[1024];
	snprintf(body, sizeof(body), "{\"error\":{\"message\":\"%0290d " LOCAL_KEY "\"}}", 0);
	ck_assert_int_eq(quoting_chat(local, NULL, body, false, &call), COG_EUNAVAILABLE);
	/* An HTTP error that quotes it, for comparison. */
	push(500, NULL, "{\"error\":{\"message\":\"bad key " LOCAL_KEY "\"}}", NULL);
	char *text = NULL;
	ck_assert_int_eq(cog_llm_backend_chat(local, USER_REQUEST, NULL, &text),
		COG_EUNAVAILABLE);
	ck_assert_msg(strstr(cog_error_last(), "HTTP 500: bad key ****") &&
	              !strstr(cog_error_last(), "local-7Qx9"), "%s", cog_error_last());
	cog_llm_free(local);
}
END_TEST

START_TEST(test_empty_data_events)
{
	/* "data:" alone is a legal event with data "": nothing to read. */
	push_stream("data:\n\n"
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
		"data:\r\n\r\n"
		"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
		"data\n\n"
		"data: [DONE]\n\n", 3);
	seen s = { NULL, 0, 0 };
	cog_llm_call call = call_with_events(&s);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, &call, &resp));
	ck_assert_str_eq(str_at(resp, "message.content"), "Hi");
	ck_assert_str_eq(s.text, "{\"type\":\"text\",\"text\":\"Hi\"}\n");
	cJSON_Delete(resp);
	free(s.text);
}
END_TEST

START_TEST(test_large_whole_answers)
{
	/* 200 kB of content, asked for as a stream and not: a server that does
	 * not stream answers whole, whatever the size (up to the cap). */
	size_t n = 200000;
	char *body = malloc(n + 256);
	int head = sprintf(body, "{\"choices\":[{\"index\":0,\"message\":{\"role\":"
		"\"assistant\",\"content\":\"");
	memset(body + head, 'a', n);
	strcpy(body + head + n, "\"},\"finish_reason\":\"stop\"}]}");
	for (int stream = 0; stream < 2; stream++) {
		push(200, "application/json", body, NULL);
		seen s = { NULL, 0, 0 };
		cog_llm_call call = call_with_events(stream ? &s : NULL);
		cJSON *resp = NULL;
		ck_assert_cog(chat(USER_REQUEST, &call, &resp));
		ck_assert_uint_eq(strlen(str_at(resp, "message.content")), n);
		ck_assert_int_eq(s.events, stream ? 1 : 0);
		cJSON_Delete(resp);
		free(s.text);
		ws_reset(server);
	}
	free(body);
}
END_TEST

START_TEST(test_url_secrets_kept_out)
{
	char base[160];
	snprintf(base, sizeof(base), "http://bob:pa55word@127.0.0.1:%u/v1?sig=s3cret#frag",
		ws_port(server));
	cog_llm_free(llm);
	llm = make_provider(base, 0);
	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(llm, &desc));
	char want[96];
	snprintf(want, sizeof(want), "\"base_url\":\"http://127.0.0.1:%u/v1\"", ws_port(server));
	ck_assert_msg(strstr(desc, want) != NULL, "%s", desc);
	cog_free(desc);
	push(200, NULL, "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}", NULL);
	cJSON *resp = NULL;
	chat(USER_REQUEST, NULL, &resp);
	cJSON_Delete(resp);
	char *log = log_kept();
	ck_assert_msg(strstr(log, "POST http://127.0.0.1:"), "%s", log[0] ? log : "(no log)");
	ck_assert_msg(!strstr(log, "pa55word") && !strstr(log, "s3cret") &&
	              !strstr(log, "bob"), "%s", log);
	free(log);
	/* Nor in the message about a URL that is refused. */
	cog_llm *bad = NULL;
	cog_llm_provider_options o = COG_LLM_PROVIDER_OPTIONS_INIT;
	o.base_url = "ftp://bob:pa55word@example.com/x?sig=s3cret";
	ck_assert_int_eq(cog_llm_provider_new(&bad, ctx, &o), COG_EINVAL);
	ck_assert_msg(strstr(cog_error_last(), "\"ftp://example.com/x\"") &&
	              !strstr(cog_error_last(), "pa55word"), "%s", cog_error_last());
}
END_TEST

START_TEST(test_arguments_text_round_trip)
{
	/* A call whose arguments were not an object goes back in the next
	 * request as the model wrote it. */
	push(200, NULL, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		"\"content\":null,\"tool_calls\":[{\"id\":\"call_c\",\"type\":\"function\","
		"\"function\":{\"name\":\"bad\",\"arguments\":\"{\\\"x\\\":\"}}]},"
		"\"finish_reason\":\"tool_calls\"}]}", NULL);
	cJSON *resp = NULL;
	ck_assert_cog(chat(USER_REQUEST, NULL, &resp));
	cJSON *next = cJSON_Parse(USER_REQUEST);
	cJSON *messages = cJSON_GetObjectItem(next, "messages");
	cJSON_AddItemToArray(messages, cJSON_Duplicate(cJSON_GetObjectItem(resp, "message"), 1));
	cJSON_AddItemToArray(messages, cJSON_Parse("{\"role\":\"tool\",\"tool_call_id\":"
		"\"call_c\",\"content\":\"your arguments are not JSON\"}"));
	char *request = cJSON_PrintUnformatted(next);
	cJSON_Delete(next);
	cJSON_Delete(resp);
	push(200, NULL, "{\"choices\":[{\"message\":{\"content\":\"sorry\"}}]}", NULL);
	ck_assert_cog(chat(request, NULL, &resp));
	free(request);
	cJSON_Delete(resp);
	char *body = ws_request_body(server, 1);
	cJSON *sent = cJSON_Parse(body);
	free(body);
	ck_assert_str_eq(str_at(sent, "messages.1.tool_calls.0.function.arguments"), "{\"x\":");
	ck_assert_str_eq(str_at(sent, "messages.1.tool_calls.0.function.name"), "bad");
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(sent, "messages"), 1), "tool_calls"), 0),
		"arguments_text"));
	cJSON_Delete(sent);
}
END_TEST

static Suite *openai_suite(void)
{
	Suite *s = suite_create("llm-openai");
	TCase *tc = tcase_create("openai");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_recorded_parallel_tool_calls);
	tcase_add_test(tc, test_recorded_split_everywhere);
	tcase_add_test(tc, test_stream_text_and_usage);
	tcase_add_test(tc, test_stream_answered_whole);
	tcase_add_test(tc, test_whole_text_answer);
	tcase_add_test(tc, test_whole_tool_calls);
	tcase_add_test(tc, test_request_mapping);
	tcase_add_test(tc, test_tool_choice_strings);
	tcase_add_test(tc, test_key_kept_out);
	tcase_add_test(tc, test_http_errors);
	tcase_add_test(tc, test_stream_faults);
	tcase_add_test(tc, test_size_cap);
	tcase_add_test(tc, test_cancel_mid_stream);
	tcase_add_test(tc, test_transport_errors);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_embeddings);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_connection_reset);
	tcase_add_test(tc, test_error_inside_200);
	tcase_add_test(tc, test_empty_data_events);
	tcase_add_test(tc, test_large_whole_answers);
	tcase_add_test(tc, test_url_secrets_kept_out);
	tcase_add_test(tc, test_arguments_text_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(openai_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures == 0 ? 0 : 1;
}
