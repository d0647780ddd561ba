/*
 * The recorder and the replay backend (lib/llm/record.c, replay.c), with a
 * host backend written here through the public vtable as the thing being
 * recorded: exchanges recorded then answered identically from a fresh
 * handle, the not-found message, every kind of malformed line, concurrent
 * recording, streamed replay, and what passes through the recorder.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "llm_int.h"
#include "test_tmp.h"

#define ck_assert_cog(expr) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s: %d %s", #expr, rc_, cog_error_last()); \
} while (0)

/* ---- the host backend ---- */

static atomic_int host_chats, host_embeds, host_closes;

#define ECHO_EVENT "{\"type\":\"text\",\"text\":\"echo: \"}"

static char *dup_text(const char *s)
{
	char *copy = cog_malloc(strlen(s) + 1);
	strcpy(copy, s);
	return copy;
}

/* Answers "echo: <last message>"; a tool call when it mentions weather;
 * a 503 when it says "fail". Streams its text in two pieces when asked. */
static int host_chat(void *self, const char *request_json, cog_llm_call *call,
                     char **response_json)
{
	(void)self;
	atomic_fetch_add(&host_chats, 1);
	cJSON *request = cJSON_Parse(request_json);
	cJSON *messages = cJSON_GetObjectItem(request, "messages");
	cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(last, "content"));
	const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(request, "model"));
	text = text ? text : "";
	cJSON *answer = cJSON_CreateObject();
	cJSON *message = cJSON_AddObjectToObject(answer, "message");
	int rc = 0;
	call->http_status = 200;
	if (strstr(text, "fail")) {
		call->http_status = 503;
		rc = cog_error_set(COG_EUNAVAILABLE, "host: HTTP 503");
	} else if (strstr(text, "weather")) {
		cJSON_AddStringToObject(message, "content", "Let me look.");
		cJSON *calls = cJSON_AddArrayToObject(message, "tool_calls");
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", "call_w");
		cJSON_AddStringToObject(c, "name", "weather");
		cJSON_AddItemToObject(c, "arguments", cJSON_Parse("{\"city\":\"Paris\"}"));
		cJSON_AddItemToArray(calls, c);
		cJSON_AddStringToObject(answer, "finish_reason", "tool_calls");
	} else {
		size_t n = strlen(text) + 8;
		char *echo = malloc(n);
		snprintf(echo, n, "echo: %s", text);
		cJSON_AddStringToObject(message, "content", echo);
		if (call->on_event) {
			rc = call->on_event(ECHO_EVENT, strlen(ECHO_EVENT),
			                    call->event_user_data);
			call->streamed = 1;
		}
		free(echo);
	}
	cJSON *usage = cJSON_AddObjectToObject(answer, "usage");
	cJSON_AddNumberToObject(usage, "input_tokens", (double)strlen(text));
	cJSON_AddNumberToObject(usage, "output_tokens", 2);
	cJSON_AddStringToObject(answer, "model", model ? model : "host-m");
	if (!rc) {
		char *printed = cJSON_PrintUnformatted(answer);
		*response_json = dup_text(printed);
		cJSON_free(printed);
	}
	cJSON_Delete(answer);
	cJSON_Delete(request);
	return rc;
}

/* Vector [length of the input, 0.5] per input. */
static int host_embed(void *self, const char *request_json, cog_llm_call *call,
                      char **response_json)
{
	(void)self, (void)call;
	atomic_fetch_add(&host_embeds, 1);
	cJSON *request = cJSON_Parse(request_json);
	cJSON *answer = cJSON_CreateObject();
	cJSON *data = cJSON_AddArrayToObject(answer, "data");
	cJSON *input;
	cJSON_ArrayForEach(input, cJSON_GetObjectItem(request, "input")) {
		cJSON *v = cJSON_CreateArray();
		cJSON_AddItemToArray(v, cJSON_CreateNumber((double)strlen(input->valuestring)));
		cJSON_AddItemToArray(v, cJSON_CreateNumber(0.5));
		cJSON_AddItemToArray(data, v);
	}
	char *printed = cJSON_PrintUnformatted(answer);
	*response_json = dup_text(printed);
	cJSON_free(printed);
	cJSON_Delete(answer);
	cJSON_Delete(request);
	return 0;
}

static int host_describe(void *self, char **json)
{
	(void)self;
	*json = dup_text("{\"backend\":\"test-host\"}");
	return 0;
}

static void host_close(void *self)
{
	(void)self;
	atomic_fetch_add(&host_closes, 1);
}

static cog_llm *host_new(void)
{
	cog_llm_vtable vt = COG_LLM_VTABLE_INIT;
	vt.chat = host_chat;
	vt.embed = host_embed;
	vt.describe = host_describe;
	vt.close = host_close;
	cog_llm *llm = NULL;
	ck_assert_cog(cog_llm_new(&llm, &vt));
	return llm;
}

static cog_llm *recorder_new(const char *path)
{
	cog_llm *rec = NULL;
	ck_assert_cog(cog_llm_recorder_new(&rec, host_new(), path));
	return rec;
}

static char *chat(cog_llm *llm, const char *request)
{
	char *answer = NULL;
	ck_assert_cog(cog_llm_backend_chat(llm, request, NULL, &answer));
	return answer;
}

static void setup(void)
{
	tmp_dir_make("cog-record-");
	atomic_store(&host_chats, 0);
	atomic_store(&host_embeds, 0);
	atomic_store(&host_closes, 0);
}

static void teardown(void)
{
	tmp_dir_remove();
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	cog_buf b = COG_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cog_buf_put(&b, chunk, n);
	fclose(f);
	return b.ptr ? cog_buf_detach(&b) : dup_text("");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Every line of a recording: an object with the four members, the key
 * that of its request; returns the number of lines. */
static int check_lines(const char *path)
{
	char *text = read_file(path);
	int lines = 0;
	for (char *line = text, *end; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		ck_assert_msg(end != NULL, "line %d has no newline", lines + 1);
		*end = '\0';
		cJSON *entry = cJSON_Parse(line);
		ck_assert_msg(entry != NULL, "line %d is not JSON: %.80s", lines + 1, line);
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(entry, "kind"));
		cJSON *request = cJSON_GetObjectItem(entry, "request");
		ck_assert_ptr_nonnull(kind);
		ck_assert(cJSON_IsObject(request));
		ck_assert(cJSON_IsObject(cJSON_GetObjectItem(entry, "response")));
		ck_assert_ptr_null(cJSON_GetObjectItem(request, "metadata"));
		char key[65];
		ck_assert_cog(llm_request_key(request, kind, key));
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(entry, "key")), key);
		cJSON_Delete(entry);
		lines++;
	}
	cog_free(text);
	return lines;
}

/* ---- record, then replay ---- */

static const char *const requests[] = {
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
	"\"metadata\":{\"run\":1}}",
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"what is the weather?\"}],"
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"parameters\":"
	"{\"type\":\"object\"}}}]}",
	"{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\","
	"\"content\":\"caf\xc3\xa9 \\\"quoted\\\"\\n\xe4\xb8\xad\"}],\"temperature\":0}",
};

/* The same requests written differently: members reordered, OpenAI
 * forms, other metadata. */
static const char *const same_requests[] = {
	"{\"metadata\":{\"run\":2,\"trace\":\"x\"},\"messages\":[{\"content\":[{\"type\":\"text\","
	"\"text\":\"hello\"}],\"role\":\"user\"}],\"model\":\"m\"}",
	"{\"tools\":[{\"name\":\"weather\",\"input_schema\":{\"type\":\"object\"}}],\"model\":\"m\","
	"\"messages\":[{\"content\":\"what is the weather?\",\"role\":\"user\"}],\"tool_choice\":null}",
	"{\"temperature\":0.0,\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
	"{\"content\":\"caf\\u00e9 \\\"quoted\\\"\\n\\u4e2d\",\"role\":\"user\"}]}",
};

START_TEST(test_record_then_replay)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("rec.jsonl"));
	cog_llm *rec = recorder_new(path);
	char *answers[3];
	for (int i = 0; i < 3; i++)
		answers[i] = chat(rec, requests[i]);
	char *embed_answer = NULL;
	ck_assert_cog(cog_llm_backend_embed(rec, "{\"model\":\"e\",\"input\":[\"ab\",\"abc\"]}",
		NULL, &embed_answer));
	ck_assert_int_eq(atomic_load(&host_chats), 3);
	ck_assert_int_eq(check_lines(path), 4);
	cog_llm_free(rec);
	ck_assert_int_eq(atomic_load(&host_closes), 1);

	cog_llm *rp = NULL;
	ck_assert_cog(cog_llm_replay_new(&rp, path));
	for (int i = 0; i < 3; i++) {
		char *again = chat(rp, requests[i]);
		ck_assert_str_eq(again, answers[i]);
		cog_free(again);
		again = chat(rp, same_requests[i]);
		ck_assert_str_eq(again, answers[i]);
		cog_free(again);
		cog_free(answers[i]);
	}
	char *embed_again = NULL;
	ck_assert_cog(cog_llm_backend_embed(rp, "{\"input\":[\"ab\",\"abc\"],\"model\":\"e\","
		"\"metadata\":{}}", NULL, &embed_again));
	ck_assert_str_eq(embed_again, embed_answer);
	ck_assert_str_eq(embed_answer, "{\"data\":[[2,0.5],[3,0.5]],\"dimensions\":2,"
		"\"usage\":{\"input_tokens\":0}}");
	cog_free(embed_again);
	cog_free(embed_answer);
	ck_assert_int_eq(atomic_load(&host_chats), 3);   /* never asked again */
	ck_assert_int_eq(atomic_load(&host_embeds), 1);

	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(rp, &desc));
	char expected[700];
	snprintf(expected, sizeof(expected),
		"{\"backend\":\"replay\",\"path\":\"%s\",\"entries\":4}", path);
	ck_assert_str_eq(desc, expected);
	cog_free(desc);
	cog_llm_free(rp);
}
END_TEST

START_TEST(test_recorder_passes_through)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("rec.jsonl"));
	cog_llm *rec = recorder_new(path);
	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(rec, &desc));
	char expected[700];
	snprintf(expected, sizeof(expected), "{\"backend\":\"recorder\",\"path\":\"%s\","
		"\"inner\":{\"backend\":\"test-host\"}}", path);
	ck_assert_str_eq(desc, expected);
	cog_free(desc);

	uint64_t tokens = 0;
	ck_assert_cog(cog_llm_count_tokens(rec, requests[0], &tokens));
	ck_assert_uint_eq(tokens, 2);          /* "hello": (5 + 3) / 4 */

	/* A failure of the inner backend: its status and http_status come
	 * back and nothing is recorded. */
	cog_llm_call call = COG_LLM_CALL_INIT;
	char *answer = NULL;
	ck_assert_int_eq(cog_llm_backend_chat(rec, "{\"messages\":[{\"role\":\"user\","
		"\"content\":\"please fail\"}]}", &call, &answer), COG_EUNAVAILABLE);
	ck_assert_ptr_null(answer);
	ck_assert_int_eq(call.http_status, 503);
	ck_assert_str_eq(cog_error_last(), "host: HTTP 503");
	ck_assert_int_eq(check_lines(path), 0);
	cog_llm_free(rec);
}
END_TEST

static int collect(const char *event, size_t len, void *ud)
{
	cog_buf *events = ud;
	ck_assert_uint_eq(strlen(event), len);
	cog_buf_put(events, event, len);
	cog_buf_putc(events, '\n');
	return 0;
}

static int stop_stream(const char *event, size_t len, void *ud)
{
	(void)event, (void)len, (void)ud;
	return COG_ECANCELED;
}

START_TEST(test_streaming)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("rec.jsonl"));
	cog_llm *rec = recorder_new(path);
	/* Streaming reaches the inner backend through the recorder. */
	cog_buf events = COG_BUF_INIT;
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = collect;
	call.event_user_data = &events;
	char *answer = NULL;
	ck_assert_cog(cog_llm_backend_chat(rec, requests[0], &call, &answer));
	ck_assert_str_eq(events.ptr, "{\"type\":\"text\",\"text\":\"echo: \"}\n");
	ck_assert_int_eq(call.streamed, 1);
	ck_assert_int_eq(call.http_status, 200);
	cog_free(answer);
	char *weather = chat(rec, requests[1]);
	cog_llm_free(rec);

	/* Replay streams the whole recorded answer: text, then each call. */
	cog_llm *rp = NULL;
	ck_assert_cog(cog_llm_replay_new(&rp, path));
	cog_buf_clear(&events);
	cog_llm_call call2 = COG_LLM_CALL_INIT;
	call2.on_event = collect;
	call2.event_user_data = &events;
	ck_assert_cog(cog_llm_backend_chat(rp, requests[1], &call2, &answer));
	ck_assert_str_eq(events.ptr,
		"{\"type\":\"text\",\"text\":\"Let me look.\"}\n"
		"{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_w\",\"name\":\"weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}\n");
	ck_assert_int_eq(call2.streamed, 1);
	ck_assert_str_eq(answer, weather);
	cog_free(answer);
	cog_free(weather);

	/* A callback that stops the stream stops the call with its status. */
	cog_llm_call call3 = COG_LLM_CALL_INIT;
	call3.on_event = stop_stream;
	ck_assert_int_eq(cog_llm_backend_chat(rp, requests[1], &call3, &answer), COG_ECANCELED);
	ck_assert_ptr_null(answer);
	ck_assert_int_eq(call3.streamed, 1);
	/* Without a callback nothing is streamed. */
	cog_llm_call call4 = COG_LLM_CALL_INIT;
	ck_assert_cog(cog_llm_backend_chat(rp, requests[1], &call4, &answer));
	ck_assert_int_eq(call4.streamed, 0);
	cog_free(answer);
	cog_buf_dispose(&events);
	cog_llm_free(rp);
}
END_TEST

START_TEST(test_replay_not_found)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("rec.jsonl"));
	cog_llm *rec = recorder_new(path);
	cog_free(chat(rec, requests[0]));
	cog_llm_free(rec);
	cog_llm *rp = NULL;
	ck_assert_cog(cog_llm_replay_new(&rp, path));

	const char *unseen = "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"user\",\"content\":"
		"\"0123456789012345678901234567890123456789012345678\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
		"\\u00e9 and more\"}]}";
	cJSON *parsed = NULL;
	char key[65];
	ck_assert_cog(llm_request_parse(&parsed, unseen, "t"));
	ck_assert_cog(llm_request_key(parsed, "chat", key));
	cJSON_Delete(parsed);
	char *answer = NULL;
	ck_assert_int_eq(cog_llm_backend_chat(rp, unseen, NULL, &answer), COG_ENOTFOUND);
	ck_assert_ptr_null(answer);
	char expected[1024];
	/* 49 ASCII bytes and five 2-byte characters make 59: a sixth would
	 * pass 60. */
	snprintf(expected, sizeof(expected), "replay: no recorded answer for chat request %s "
		"(model gpt-x, last message: \"0123456789012345678901234567890123456789012345678"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\") in %s", key, path);
	ck_assert_str_eq(cog_error_last(), expected);

	ck_assert_int_eq(cog_llm_backend_chat(rp, "{\"messages\":[{\"role\":\"user\",\"content\":"
		"\"hi\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\",\"name\":\"f\"}]}]}",
		NULL, &answer), COG_ENOTFOUND);
	ck_assert_msg(strstr(cog_error_last(), "(model none, last message: \"(tool calls)\")"),
		"%s", cog_error_last());
	ck_assert_int_eq(cog_llm_backend_embed(rp, "{\"input\":\"a \\\"b\\\"\"}", NULL, &answer),
		COG_ENOTFOUND);
	ck_assert_msg(strstr(cog_error_last(), "no recorded answer for embed request ") &&
		strstr(cog_error_last(), "(model none, first input: \"a  b \")"), "%s",
		cog_error_last());
	/* The metadata is not part of what is looked up; the model is. */
	char *found = NULL;
	ck_assert_cog(cog_llm_backend_chat(rp, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"hello\"}],\"metadata\":{\"other\":true}}", NULL, &found));
	cog_free(found);
	ck_assert_int_eq(cog_llm_backend_chat(rp, "{\"model\":\"m2\",\"messages\":[{\"role\":"
		"\"user\",\"content\":\"hello\"}]}", NULL, &found), COG_ENOTFOUND);
	cog_llm_free(rp);
}
END_TEST

/* ---- malformed recordings ---- */

#define GOOD_CHAT "{\"key\":\"k\",\"kind\":\"chat\",\"request\":{\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"hi\"}]},\"response\":{\"message\":{\"content\":\"one\"}}}"

static void ck_bad_file(const char *text, const char *expected_tail, int line)
{
	const char *path = tmp_file("bad.jsonl");
	write_file(path, text);
	cog_llm *rp = NULL;
	int rc = cog_llm_replay_new(&rp, path);
	ck_assert_msg(rc == COG_EPROTO, "line %d: rc %d (%s)", line, rc, cog_error_last());
	ck_assert_ptr_null(rp);
	char expected[1024];
	snprintf(expected, sizeof(expected), "cog_llm_replay_new: %s: %s", path, expected_tail);
	ck_assert_msg(strncmp(cog_error_last(), expected, strlen(expected)) == 0,
		"line %d: \"%s\" does not start with \"%s\"", line, cog_error_last(), expected);
}
#define ck_bad(text, tail) ck_bad_file(text, tail, __LINE__)

START_TEST(test_malformed_lines)
{
	ck_bad("not json\n", "line 1: invalid JSON at byte 0");
	ck_bad(GOOD_CHAT "\n\n{\"key\":1}\n", "line 3: \"key\" is missing or not a string");
	ck_bad(GOOD_CHAT "\n[1]\n", "line 2: not a JSON object");
	ck_bad("{\"key\":\"k\",\"kind\":\"chat\",\"request\":{\"messages\":[]},\"response\":{}",
	       "line 1: invalid JSON at byte");
	ck_bad("{\"key\":\"k\",\"kind\":\"complete\",\"request\":{},\"response\":{}}\n",
	       "line 1: \"kind\" must be \"chat\" or \"embed\"");
	ck_bad("{\"key\":\"k\",\"kind\":\"chat\",\"request\":[],\"response\":{}}\n",
	       "line 1: \"request\" must be an object");
	ck_bad("{\"key\":\"k\",\"kind\":\"chat\",\"request\":{}}\n",
	       "line 1: \"response\" must be an object");
	ck_bad(GOOD_CHAT "\r\n{\"key\":\"k\",\"kind\":\"chat\",\"request\":{\"messages\":[{\"role\":"
	       "\"bot\",\"content\":\"x\"}]},\"response\":{\"message\":{}}}\r\n",
	       "line 2: request: /messages/0/role: must be one of system, user, assistant, tool "
	       "(got \"bot\")");
	ck_bad("{\"key\":\"k\",\"kind\":\"chat\",\"request\":{\"messages\":[{\"role\":\"user\","
	       "\"content\":\"x\"}]},\"response\":{\"message\":{},\"finish_reason\":\"end_turn\"}}\n",
	       "line 1: answer: /finish_reason: must be one of stop, length, tool_calls, content_filter");
	ck_bad("{\"key\":\"k\",\"kind\":\"embed\",\"request\":{\"input\":[\"a\",\"b\"]},"
	       "\"response\":{\"data\":[[1]]}}\n",
	       "line 1: answer: /data: has 1 vectors for 2 inputs");
	ck_bad("{\"key\":\"k\",\"kind\":\"embed\",\"request\":{\"input\":[]},\"response\":{}}\n",
	       "line 1: embed request: /input: must hold 1 to 2048 strings");

	/* A NUL byte does not end the recording quietly: the line is named. */
	static const char with_nul[] = GOOD_CHAT "\n" GOOD_CHAT "\0 rest of the file\n"
		GOOD_CHAT "\n";
	const char *path = tmp_file("nul.jsonl");
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(with_nul, 1, sizeof(with_nul) - 1, f), sizeof(with_nul) - 1);
	fclose(f);
	cog_llm *rp = NULL;
	ck_assert_int_eq(cog_llm_replay_new(&rp, path), COG_EPROTO);
	ck_assert_ptr_null(rp);
	char expected[1024];
	snprintf(expected, sizeof(expected), "cog_llm_replay_new: %s: line 2: contains a NUL "
		"byte", path);
	ck_assert_str_eq(cog_error_last(), expected);

	ck_assert_int_eq(cog_llm_replay_new(&rp, tmp_file("missing.jsonl")), COG_EIO);
	ck_assert_ptr_null(rp);
	ck_assert_int_eq(cog_llm_replay_new(&rp, NULL), COG_EINVAL);
	ck_assert_int_eq(cog_llm_replay_new(NULL, "x"), COG_EINVAL);
}
END_TEST

START_TEST(test_last_line_wins)
{
	/* Blank lines, CRLF, a stale key and the same request twice: the
	 * later answer is the one given; an empty file is an empty replay. */
	const char *path = tmp_file("two.jsonl");
	write_file(path, "\n" GOOD_CHAT "\r\n   \n"
		"{\"key\":\"stale\",\"kind\":\"chat\",\"request\":{\"messages\":[{\"content\":\"hi\","
		"\"role\":\"user\"}],\"metadata\":{\"x\":1}},\"response\":{\"message\":{\"content\":\"two\"}}}");
	cog_llm *rp = NULL;
	ck_assert_cog(cog_llm_replay_new(&rp, path));
	char *answer = chat(rp, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	ck_assert_str_eq(answer, "{\"message\":{\"content\":\"two\",\"role\":\"assistant\"},"
		"\"finish_reason\":\"stop\",\"usage\":{\"input_tokens\":0,\"output_tokens\":0,"
		"\"cached_tokens\":0}}");
	cog_free(answer);
	char *desc = NULL;
	ck_assert_cog(cog_llm_describe(rp, &desc));
	ck_assert_msg(strstr(desc, "\"entries\":1}"), "%s", desc);
	cog_free(desc);
	cog_llm_free(rp);

	write_file(path, "");
	ck_assert_cog(cog_llm_replay_new(&rp, path));
	ck_assert_int_eq(cog_llm_backend_chat(rp, "{\"messages\":[{\"role\":\"user\",\"content\":"
		"\"hi\"}]}", NULL, &answer), COG_ENOTFOUND);
	cog_llm_free(rp);
}
END_TEST

START_TEST(test_recorder_errors)
{
	cog_llm *rec = NULL;
	ck_assert_int_eq(cog_llm_recorder_new(&rec, NULL, "x"), COG_EINVAL);
	ck_assert_int_eq(cog_llm_recorder_new(&rec, host_new(), NULL), COG_EINVAL);
	ck_assert_int_eq(atomic_load(&host_closes), 1);   /* owned even on failure */
	ck_assert_int_eq(cog_llm_recorder_new(&rec, host_new(), tmp_file("no/such/dir.jsonl")),
		COG_EIO);
	ck_assert_ptr_null(rec);
	ck_assert_int_eq(atomic_load(&host_closes), 2);
	ck_assert_msg(strstr(cog_error_last(), "cannot open") &&
		strstr(cog_error_last(), "no/such/dir.jsonl"), "%s", cog_error_last());

	/* A line that cannot be written fails the call: a recording that
	 * silently misses exchanges would fail later, far from the cause. */
	rec = recorder_new("/dev/full");
	char *answer = NULL;
	ck_assert_int_eq(cog_llm_backend_chat(rec, requests[0], NULL, &answer), COG_EIO);
	ck_assert_ptr_null(answer);
	ck_assert_str_eq(cog_error_last(), "recorder: cannot write to /dev/full: "
		"No space left on device");
	cog_llm_free(rec);

	/* A recording whose last line was cut short: the next line starts on
	 * a line of its own, and the replay names the broken line. */
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("cut.jsonl"));
	write_file(path, GOOD_CHAT "\n{\"key\":\"k\",\"kin");
	rec = recorder_new(path);
	cog_free(chat(rec, requests[0]));
	cog_llm_free(rec);
	char *text = read_file(path);
	ck_assert_msg(strstr(text, "\"kin\n{\"key\":\""), "%s", text);
	cog_free(text);
	cog_llm *rp = NULL;
	ck_assert_int_eq(cog_llm_replay_new(&rp, path), COG_EPROTO);
	ck_assert_msg(strstr(cog_error_last(), ": line 2: invalid JSON"), "%s", cog_error_last());
}
END_TEST

/* ---- concurrency ---- */

enum { THREADS = 4, PER_THREAD = 40 };
static cog_llm *shared;

/* Requests big enough (~6 KB per line) that unsynchronised writes would
 * split lines. */
static void *record_many(void *arg)
{
	int t = (int)(intptr_t)arg;
	char *filler = malloc(6001);
	memset(filler, 'a' + t, 6000);
	filler[6000] = '\0';
	char *request = malloc(6200);
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(request, 6200, "{\"messages\":[{\"role\":\"user\",\"content\":\"%d-%d %s\"}]}",
		         t, i, filler);
		char *answer = NULL;
		int rc = cog_llm_backend_chat(shared, request, NULL, &answer);
		if (rc) {
			free(filler);
			free(request);
			return (void *)(intptr_t)rc;
		}
		cog_free(answer);
	}
	free(filler);
	free(request);
	return NULL;
}

START_TEST(test_concurrent_recording)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", tmp_file("many.jsonl"));
	shared = recorder_new(path);
	pthread_t threads[THREADS];
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&threads[t], NULL, record_many, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++) {
		void *result = NULL;
		pthread_join(threads[t], &result);
		ck_assert_ptr_null(result);
	}
	cog_llm_free(shared);
	ck_assert_int_eq(check_lines(path), THREADS * PER_THREAD);

	/* The replay answers every one of them, from several threads too. */
	ck_assert_cog(cog_llm_replay_new(&shared, path));
	ck_assert_int_eq(atomic_load(&host_chats), THREADS * PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&threads[t], NULL, record_many, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++) {
		void *result = NULL;
		pthread_join(threads[t], &result);
		ck_assert_ptr_null(result);
	}
	ck_assert_int_eq(atomic_load(&host_chats), THREADS * PER_THREAD);
	cog_llm_free(shared);
}
END_TEST

static Suite *record_suite(void)
{
	Suite *s = suite_create("llm_record");
	TCase *tc = tcase_create("record");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_record_then_replay);
	tcase_add_test(tc, test_recorder_passes_through);
	tcase_add_test(tc, test_streaming);
	tcase_add_test(tc, test_replay_not_found);
	tcase_add_test(tc, test_malformed_lines);
	tcase_add_test(tc, test_last_line_wins);
	tcase_add_test(tc, test_recorder_errors);
	tcase_add_test(tc, test_concurrent_recording);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(record_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
