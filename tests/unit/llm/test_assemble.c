/*
 * Unit tests for lib/llm/assemble.c: answers built from stream pieces, the
 * events they produce (exact bytes) and the response shape at the end.
 * Also what feeds it fastest: the OpenAI stream chunk fast path (checked
 * against the JSON tree, by hand and under random damage), 100k-chunk
 * streams through the whole path (the rates are printed, not asserted:
 * tests/bench/bench_llm.c measures them), and the Retry-After parser.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "llm_int.h"
#include "openai_int.h"
#include "provider_int.h"

/* Every event received, one per line. */
typedef struct events {
	cog_buf all;
	int count;
	int stop_at;          /* > 0: answer COG_ECANCELED to event number stop_at */
	size_t bytes;
} events;

static int on_event(const char *json, size_t len, void *user_data)
{
	events *ev = user_data;
	ck_assert_uint_eq(strlen(json), len);
	ev->count++;
	cog_buf_put(&ev->all, json, len);
	cog_buf_putc(&ev->all, '\n');
	if (ev->stop_at > 0 && ev->count == ev->stop_at)
		return COG_ECANCELED;
	return 0;
}

static int count_event(const char *json, size_t len, void *user_data)
{
	(void)json;
	events *ev = user_data;
	ev->count++;
	ev->bytes += len;
	return 0;
}

static void call_for(cog_llm_call *call, events *ev)
{
	cog_llm_call init = COG_LLM_CALL_INIT;
	*call = init;
	call->on_event = on_event;
	call->event_user_data = ev;
	memset(ev, 0, sizeof(*ev));
}

/* The answer as canonical text, to compare with an expected literal. */
static char *finish_text(llm_asm *a)
{
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(a, &r), 0);
	char *text = cog_json_print(r);
	cJSON_Delete(r);
	ck_assert_ptr_nonnull(text);
	return text;
}

static void expect_answer(llm_asm *a, const char *expected)
{
	char *text = finish_text(a);
	ck_assert_str_eq(text, expected);
	cog_free(text);
}

START_TEST(test_text_events)
{
	cog_llm_call call;
	events ev;
	call_for(&call, &ev);
	llm_asm a;
	llm_asm_init(&a, &call);
	ck_assert_int_eq(llm_asm_text(&a, "Hel", 3), 0);
	ck_assert_int_eq(call.streamed, 1);
	ck_assert_int_eq(llm_asm_text(&a, "", 0), 0);   /* nothing to announce */
	const char *piece = "lo \"q\"\n\t\\ \x01 é";
	ck_assert_int_eq(llm_asm_text(&a, piece, strlen(piece)), 0);
	ck_assert_int_eq(llm_asm_text(&a, "a\0b", 3), 0);
	ck_assert_int_eq(ev.count, 3);
	ck_assert_str_eq(ev.all.ptr,
		"{\"type\":\"text\",\"text\":\"Hel\"}\n"
		"{\"type\":\"text\",\"text\":\"lo \\\"q\\\"\\n\\t\\\\ \\u0001 é\"}\n"
		"{\"type\":\"text\",\"text\":\"a\\u0000b\"}\n");
	ck_assert_int_eq(llm_asm_set_model(&a, "m-1"), 0);
	ck_assert_int_eq(llm_asm_set_model(&a, "m-2"), 0);
	a.input_tokens = 10;
	a.output_tokens = 4;
	a.cached_tokens = 2;
	/* A NUL in text cannot live in a C string: it becomes U+FFFD. */
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":"
		"\"Hello \\\"q\\\"\\n\\t\\\\ \\u0001 éa\xef\xbf\xbd" "b\"},"
		"\"finish_reason\":\"stop\","
		"\"usage\":{\"input_tokens\":10,\"output_tokens\":4,\"cached_tokens\":2},"
		"\"model\":\"m-2\"}");
	llm_asm_dispose(&a);
	cog_buf_dispose(&ev.all);
}
END_TEST

START_TEST(test_no_stream)
{
	/* No call, and a call without on_event: nothing is delivered. */
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_text(&a, "hi", 2), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "c1", "f"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{}", 2), 0);
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":\"hi\",\"tool_calls\":"
		"[{\"id\":\"c1\",\"name\":\"f\",\"arguments\":{}}]},"
		"\"finish_reason\":\"tool_calls\","
		"\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cached_tokens\":0}}");
	llm_asm_dispose(&a);

	cog_llm_call call = COG_LLM_CALL_INIT;
	llm_asm_init(&a, &call);
	ck_assert_int_eq(llm_asm_text(&a, "x", 1), 0);
	ck_assert_int_eq(call.streamed, 0);
	llm_asm_dispose(&a);
}
END_TEST

START_TEST(test_parallel_interleaved)
{
	cog_llm_call call;
	events ev;
	call_for(&call, &ev);
	llm_asm a;
	llm_asm_init(&a, &call);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "call_A", "getTemp"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "", 0), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, "call_B", "getRain"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 1, "{\"lo", 4), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{\"city\": \"S", 11), 0);
	/* A repeated first fragment adds nothing and is not announced again. */
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "call_A", "getTemp"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 1, "c\": \"Paris\"}", 12), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "F\"}", 3), 0);
	ck_assert_int_eq(llm_asm_set_finish(&a, "tool_calls"), 0);
	ck_assert_str_eq(ev.all.ptr,
		"{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_A\",\"name\":\"getTemp\",\"arguments\":\"\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"id\":\"call_B\",\"name\":\"getRain\",\"arguments\":\"\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"arguments\":\"{\\\"lo\"}\n"
		"{\"type\":\"tool_call\",\"index\":0,\"arguments\":\"{\\\"city\\\": \\\"S\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"arguments\":\"c\\\": \\\"Paris\\\"}\"}\n"
		"{\"type\":\"tool_call\",\"index\":0,\"arguments\":\"F\\\"}\"}\n");
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_A\",\"name\":\"getTemp\",\"arguments\":{\"city\":\"SF\"}},"
		"{\"id\":\"call_B\",\"name\":\"getRain\",\"arguments\":{\"loc\":\"Paris\"}}]},"
		"\"finish_reason\":\"tool_calls\","
		"\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cached_tokens\":0}}");
	llm_asm_dispose(&a);
	cog_buf_dispose(&ev.all);
}
END_TEST

START_TEST(test_calls_sorted_by_index)
{
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 2, "c2", "f"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "c0", "g"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, "c1", "h"), 0);
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(&a, &r), 0);
	const cJSON *calls = cog_json_pointer_get(r, "/message/tool_calls");
	ck_assert_int_eq(cJSON_GetArraySize(calls), 3);
	ck_assert_str_eq(cog_json_get_string(cJSON_GetArrayItem(calls, 0), "id"), "c0");
	ck_assert_str_eq(cog_json_get_string(cJSON_GetArrayItem(calls, 1), "id"), "c1");
	ck_assert_str_eq(cog_json_get_string(cJSON_GetArrayItem(calls, 2), "id"), "c2");
	cJSON_Delete(r);
	llm_asm_dispose(&a);
}
END_TEST

/* The arguments member a call gets for argument text `args`. */
static char *arguments_of(const char *args)
{
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "c", "f"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, args, strlen(args)), 0);
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(&a, &r), 0);
	cJSON *call = cJSON_GetArrayItem(cog_json_pointer_get(r, "/message/tool_calls"), 0);
	cJSON_DeleteItemFromObject(call, "id");
	cJSON_DeleteItemFromObject(call, "name");
	char *text = cog_json_print(call);
	cJSON_Delete(r);
	llm_asm_dispose(&a);
	return text;
}

static void expect_arguments(const char *args, const char *expected)
{
	char *text = arguments_of(args);
	ck_assert_msg(strcmp(text, expected) == 0, "arguments %s: got %s, want %s",
		args, text, expected);
	cog_free(text);
}

START_TEST(test_arguments)
{
	expect_arguments("", "{\"arguments\":{}}");
	expect_arguments(" \n\t\r ", "{\"arguments\":{}}");
	expect_arguments(" {\"a\":[1,2]} ", "{\"arguments\":{\"a\":[1,2]}}");
	expect_arguments("[1,2]", "{\"arguments\":null,\"arguments_text\":\"[1,2]\"}");
	expect_arguments("\"x\"", "{\"arguments\":null,\"arguments_text\":\"\\\"x\\\"\"}");
	expect_arguments("{\"a\":", "{\"arguments\":null,\"arguments_text\":\"{\\\"a\\\":\"}");
	expect_arguments("{} {}", "{\"arguments\":null,\"arguments_text\":\"{} {}\"}");
	expect_arguments("null", "{\"arguments\":null,\"arguments_text\":\"null\"}");
	expect_arguments("{\"a\":\"\xff\"}",
		"{\"arguments\":null,\"arguments_text\":\"{\\\"a\\\":\\\"\xef\xbf\xbd\\\"}\"}");
	ck_assert_int_eq(cog_error_last_code(), COG_OK);
}
END_TEST

START_TEST(test_missing_ids)
{
	cog_llm_call call;
	events ev;
	call_for(&call, &ev);
	llm_asm a;
	llm_asm_init(&a, &call);
	/* Ollama: no ids at all, whole argument objects. */
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, NULL, "f"), 0);
	cJSON *obj = cJSON_Parse("{\"x\":1}");
	ck_assert_int_eq(llm_asm_tool_args_object(&a, 0, obj), 0);
	/* A name that comes with a later piece: announced by that piece, never
	 * "name":null before it; the same for an id (the made-up one stands
	 * until then), and a repeat announces nothing. */
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, NULL, NULL), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, NULL, "g"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, "id_1", "g"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, "id_1", "g"), 0);
	ck_assert_str_eq(ev.all.ptr,
		"{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_0\",\"name\":\"f\",\"arguments\":\"\"}\n"
		"{\"type\":\"tool_call\",\"index\":0,\"arguments\":\"{\\\"x\\\":1}\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"id\":\"call_1\",\"arguments\":\"\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"name\":\"g\",\"arguments\":\"\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"id\":\"id_1\",\"arguments\":\"\"}\n");
	ck_assert_ptr_null(strstr(ev.all.ptr, "null"));
	/* Whole arguments once, never mixed with pieces. */
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "x", 1), COG_EPROTO);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "tool call 0"));
	llm_asm_dispose(&a);
	cog_buf_dispose(&ev.all);

	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 3, NULL, "f"), 0);
	ck_assert_int_eq(llm_asm_tool_args_object(&a, 3, obj), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 4, NULL, "g"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 4, "real_id", NULL), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 4, "other_id", "h"), 0); /* first wins */
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_3\",\"name\":\"f\",\"arguments\":{\"x\":1}},"
		"{\"id\":\"real_id\",\"name\":\"g\",\"arguments\":{}}]},"
		"\"finish_reason\":\"tool_calls\","
		"\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cached_tokens\":0}}");
	llm_asm_dispose(&a);
	cJSON_Delete(obj);
}
END_TEST

START_TEST(test_content_and_finish)
{
	llm_asm a;
	/* Nothing at all: empty text, stop. */
	llm_asm_init(&a, NULL);
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\","
		"\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cached_tokens\":0}}");
	llm_asm_dispose(&a);
	/* Text and a call: both kept; the provider's finish reason wins. */
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_text(&a, "Let me check.", 13), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "id0", "f"), 0);
	ck_assert_int_eq(llm_asm_set_finish(&a, "length"), 0);
	expect_answer(&a,
		"{\"message\":{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":["
		"{\"id\":\"id0\",\"name\":\"f\",\"arguments\":{}}]},\"finish_reason\":\"length\","
		"\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cached_tokens\":0}}");
	llm_asm_dispose(&a);
}
END_TEST

START_TEST(test_bad_pieces)
{
	llm_asm a;
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_args(&a, 5, "{}", 2), COG_EPROTO);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "tool call 5"));
	/* Sticky: everything after fails the same way. */
	ck_assert_int_eq(llm_asm_text(&a, "x", 1), COG_EPROTO);
	cJSON *r = (cJSON *)1;
	ck_assert_int_eq(llm_asm_finish(&a, &r), COG_EPROTO);
	ck_assert_ptr_null(r);
	llm_asm_dispose(&a);

	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, -1, "x", "f"), COG_EPROTO);
	llm_asm_dispose(&a);

	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "x", "f"), 0);
	cJSON *arr = cJSON_CreateArray();
	ck_assert_int_eq(llm_asm_tool_args_object(&a, 0, arr), COG_EPROTO);
	cJSON_Delete(arr);
	llm_asm_dispose(&a);

	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "x", "f"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{", 1), 0);
	cJSON *obj = cJSON_CreateObject();
	ck_assert_int_eq(llm_asm_tool_args_object(&a, 0, obj), COG_EPROTO);
	cJSON_Delete(obj);
	llm_asm_dispose(&a);

	/* A call that never got a name cannot be answered. */
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "x", NULL), 0);
	ck_assert_int_eq(llm_asm_finish(&a, &r), COG_EPROTO);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "without a name"));
	llm_asm_dispose(&a);
}
END_TEST

START_TEST(test_tool_call_cap)
{
	/* 256 calls are an answer; the 257th is a malformed one. */
	llm_asm a;
	llm_asm_init(&a, NULL);
	for (int i = 0; i < 256; i++)
		ck_assert_int_eq(llm_asm_tool_start(&a, 255 - i, NULL, "f"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 256, NULL, "f"), COG_EPROTO);
	ck_assert_str_eq(cog_error_last(), "more than 256 tool calls in one answer");
	llm_asm_dispose(&a);

	/* A server numbering 300k calls stops at the cap, quickly: lookups
	 * stay over at most 256 calls. */
	events ev;
	cog_llm_call call;
	call_for(&call, &ev);
	call.on_event = count_event;
	llm_asm_init(&a, &call);
	int rc = 0, i = 0;
	for (; i < 300000 && rc == 0; i++)
		rc = llm_asm_tool_start(&a, i, NULL, "f");
	ck_assert_int_eq(rc, COG_EPROTO);
	ck_assert_int_eq(i, 257);
	ck_assert_int_eq(ev.count, 256);
	ck_assert_uint_eq(a.n_calls, 256);
	llm_asm_dispose(&a);

	/* Indexes are bounded too. */
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 65535, "x", "f"), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 65536, "y", "g"), COG_EPROTO);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "65536"));
	llm_asm_dispose(&a);
	llm_asm_init(&a, NULL);
	ck_assert_int_eq(llm_asm_tool_start(&a, 2147483647, "x", "f"), COG_EPROTO);
	llm_asm_dispose(&a);
}
END_TEST

/* The events of an answer assembled while streaming, and those of the
 * finished answer (llm_emit_response_events), for the same pieces. */
START_TEST(test_response_events)
{
	cog_llm_call call;
	events live, replayed;
	call_for(&call, &live);
	llm_asm a;
	llm_asm_init(&a, &call);
	ck_assert_int_eq(llm_asm_text(&a, "Let me look.", 12), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "call_a", "get_weather"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{\"city\": \"Paris\"}", 17), 0);
	ck_assert_int_eq(llm_asm_tool_start(&a, 1, NULL, "now"), 0);    /* no id, no args */
	ck_assert_int_eq(llm_asm_tool_start(&a, 2, "call_c", "bad"), 0);
	ck_assert_int_eq(llm_asm_tool_args(&a, 2, "{\"x\":", 5), 0);
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(&a, &r), 0);
	llm_asm_dispose(&a);

	call_for(&call, &replayed);
	ck_assert_int_eq(llm_emit_response_events(&call, r), 0);
	ck_assert_int_eq(call.streamed, 1);
	ck_assert_str_eq(replayed.all.ptr,
		"{\"type\":\"text\",\"text\":\"Let me look.\"}\n"
		"{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_a\",\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}\n"
		"{\"type\":\"tool_call\",\"index\":1,\"id\":\"call_1\",\"name\":\"now\","
		"\"arguments\":\"{}\"}\n"
		"{\"type\":\"tool_call\",\"index\":2,\"id\":\"call_c\",\"name\":\"bad\","
		"\"arguments\":\"{\\\"x\\\":\"}\n");
	/* The live events say the same once each call's pieces are joined:
	 * one text event, and per call the same id and name. */
	ck_assert_ptr_nonnull(strstr(live.all.ptr, "{\"type\":\"text\",\"text\":\"Let me look.\"}\n"));
	ck_assert_ptr_nonnull(strstr(live.all.ptr, "\"index\":1,\"id\":\"call_1\",\"name\":\"now\""));
	cog_buf_dispose(&live.all);
	cog_buf_dispose(&replayed.all);

	/* A call without id or name (not the response shape, but the helper
	 * must not invent a "name":null), no content: only the call. */
	cJSON *odd = cJSON_Parse("{\"message\":{\"role\":\"assistant\",\"content\":null,"
		"\"tool_calls\":[{\"arguments\":null,\"arguments_text\":\"oops\"}]}}");
	call_for(&call, &replayed);
	ck_assert_int_eq(llm_emit_response_events(&call, odd), 0);
	ck_assert_str_eq(replayed.all.ptr,
		"{\"type\":\"tool_call\",\"index\":0,\"id\":\"call_0\",\"arguments\":\"oops\"}\n");
	cog_buf_dispose(&replayed.all);
	cJSON_Delete(odd);

	/* The callback stops it; no call or no callback: nothing happens. */
	call_for(&call, &replayed);
	replayed.stop_at = 2;
	cog_error_clear();
	ck_assert_int_eq(llm_emit_response_events(&call, r), COG_ECANCELED);
	ck_assert_int_eq(replayed.count, 2);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "stream callback"));
	cog_buf_dispose(&replayed.all);
	ck_assert_int_eq(llm_emit_response_events(NULL, r), 0);
	cog_llm_call quiet = COG_LLM_CALL_INIT;
	ck_assert_int_eq(llm_emit_response_events(&quiet, r), 0);
	ck_assert_int_eq(quiet.streamed, 0);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_abort_from_callback)
{
	cog_llm_call call;
	events ev;
	call_for(&call, &ev);
	ev.stop_at = 2;
	llm_asm a;
	llm_asm_init(&a, &call);
	cog_error_clear();
	ck_assert_int_eq(llm_asm_text(&a, "a", 1), 0);
	ck_assert_int_eq(llm_asm_text(&a, "b", 1), COG_ECANCELED);
	ck_assert_ptr_nonnull(strstr(cog_error_last(), "stream callback"));
	ck_assert_int_eq(llm_asm_text(&a, "c", 1), COG_ECANCELED);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "i", "f"), COG_ECANCELED);
	ck_assert_int_eq(ev.count, 2);
	cJSON *r = NULL;
	ck_assert_int_eq(llm_asm_finish(&a, &r), COG_ECANCELED);
	llm_asm_dispose(&a);
	cog_buf_dispose(&ev.all);

	/* The callback's own message is kept. */
	call_for(&call, &ev);
	llm_asm_init(&a, &call);
	ck_assert_int_eq(llm_asm_tool_start(&a, 0, "i", "f"), 0);
	ev.stop_at = 2;
	call.on_event = on_event;
	ck_assert_int_eq(llm_asm_tool_args(&a, 0, "{", 1), COG_ECANCELED);
	llm_asm_dispose(&a);
	cog_buf_dispose(&ev.all);
}
END_TEST

static int user_stop(const char *json, size_t len, void *ud)
{
	(void)json; (void)len; (void)ud;
	return cog_error_set(COG_EUSER, "the user had enough");
}

START_TEST(test_callback_message_kept)
{
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = user_stop;
	llm_asm a;
	llm_asm_init(&a, &call);
	cog_error_clear();
	ck_assert_int_eq(llm_asm_text(&a, "x", 1), COG_EUSER);
	ck_assert_str_eq(cog_error_last(), "the user had enough");
	ck_assert_int_eq(call.streamed, 1);
	llm_asm_dispose(&a);
}
END_TEST

START_TEST(test_text_rate)
{
	/* Two million pieces with events: all delivered, all kept. The rate
	 * is printed for information; timing is the benchmark's job. */
	enum { N = 2000000 };
	cog_llm_call call = COG_LLM_CALL_INIT;
	events ev;
	memset(&ev, 0, sizeof(ev));
	call.on_event = count_event;
	call.event_user_data = &ev;
	llm_asm a;
	llm_asm_init(&a, &call);
	const char *piece = " the quick";
	uint64_t t0 = cog_clock_mono_ns();
	int rc = 0;
	/* (Check's assertions cost a system call each: none in the loop.) */
	for (int i = 0; i < N && rc == 0; i++)
		rc = llm_asm_text(&a, piece, 10);
	uint64_t ns = cog_clock_mono_ns() - t0;
	double rate = (double)N / ((double)ns / 1e9);
	printf("assemble: %.2f M text pieces/s with events\n", rate / 1e6);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(ev.count, N);
	ck_assert_uint_eq(a.text.len, (size_t)N * 10);
	llm_asm_dispose(&a);
}
END_TEST


/* ---- OpenAI stream chunks: the fast path against the JSON tree ---- */

static const char *const TEXT_CHUNK =
	"{\"id\":\"chatcmpl-BLHRiX8Ho0oiVME8vV50mvcEXG7ue\",\"object\":\"chat.completion.chunk\","
	"\"created\":1744411650,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\","
	"\"system_fingerprint\":\"fp_44added55e\",\"choices\":[{\"index\":0,\"delta\":"
	"{\"content\":\" wor\\u00e9ld\\n\"},\"logprobs\":null,\"finish_reason\":null}],"
	"\"usage\":null}";

/* What the JSON tree says a chunk the fast path took must mean: text and
 * model, and nothing the fast path does not handle. */
static bool tree_agrees(const char *chunk, size_t len, const llm_asm *a)
{
	if (cog_json_validate(chunk, len, "chunk") != COG_OK)
		return false;
	cJSON *j = cJSON_ParseWithLength(chunk, len);
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const char *content = cog_json_get_string(delta, "content");
	const char *model = cog_json_get_string(j, "model");
	bool ok = cJSON_IsObject(j) && cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")) == 1 &&
		!cJSON_GetObjectItemCaseSensitive(delta, "tool_calls") &&
		!cog_json_get_string(choice, "finish_reason") &&
		!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "usage")) &&
		!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "error"));
	const char *text = a->text.ptr ? a->text.ptr : "";
	ok = ok && strcmp(text, content ? content : "") == 0;
	ok = ok && ((!model && !a->model) || (model && a->model && strcmp(model, a->model) == 0));
	cJSON_Delete(j);
	return ok;
}

START_TEST(test_fast_chunk_shapes)
{
	static const struct { const char *chunk; int fast; const char *text; } cases[] = {
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}", 1, "hi" },
		{ " { \"choices\" : [ { \"delta\" : { \"role\" : \"assistant\" , \"content\" : null ,"
		  " \"refusal\" : null } } ] } \n", 1, "" },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u20ac\"}}]}",
		  1, "a\"\\/\b\f\n\r\t\xe2\x82\xac" },
		{ "{\"x\":[1,-2.5e3,true,false,null,{\"y\":[]}],\"choices\":[{\"delta\":{}}]}", 1, "" },
		/* Another shape, or something unusual: the tree decides. */
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ud83d\\ude00\"}}]}", 0, NULL },
		{ "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\\u0000b\"}}]}", 0, NULL },
		{ "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"}},{\"delta\":{}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}", 0, NULL },
		{ "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\",\"content\":\"y\"}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"choices\":[]}", 0, NULL },
		{ "{\"error\":{\"message\":\"m\"},\"choices\":[{\"delta\":{}}]}", 0, NULL },
		{ "{\"id\":\"caf\xc3\xa9\",\"choices\":[{\"delta\":{}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"bad \xff\"}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]} x", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]", 0, NULL },
		{ "{\"n\":01,\"choices\":[{\"delta\":{}}]}", 0, NULL },
		{ "{\"n\":1.,\"choices\":[{\"delta\":{}}]}", 0, NULL },
		{ "{\"n\":tru,\"choices\":[{\"delta\":{}}]}", 0, NULL },
		{ "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],}", 0, NULL },
		{ "[]", 0, NULL },
		{ "", 0, NULL },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(cases); i++) {
		llm_asm a;
		cog_buf scratch = COG_BUF_INIT;
		llm_asm_init(&a, NULL);
		size_t len = strlen(cases[i].chunk);
		int rc = llm_openai_fast_chunk(cases[i].chunk, len, &scratch, &a);
		ck_assert_msg(rc == cases[i].fast, "case %zu: %d", i, rc);
		if (rc == 1) {
			ck_assert_str_eq(a.text.ptr ? a.text.ptr : "", cases[i].text);
			ck_assert_msg(tree_agrees(cases[i].chunk, len, &a), "case %zu", i);
		} else {
			ck_assert_uint_eq(a.text.len, 0);
			ck_assert_ptr_null(a.model);
		}
		llm_asm_dispose(&a);
		cog_buf_dispose(&scratch);
	}
}
END_TEST

/* Random damage to a real chunk: whatever the fast path takes must be
 * exactly what the JSON tree says. */
START_TEST(test_fast_chunk_mutations)
{
	static const char alphabet[] = "{}[]\",:\\u0aen. \x01\xc3\xff";
	size_t len = strlen(TEXT_CHUNK);
	char *chunk = cog_malloc(len + 1);
	uint32_t seed = 12345;
	int taken = 0;
	for (int round = 0; round < 200000; round++) {
		memcpy(chunk, TEXT_CHUNK, len + 1);
		size_t n = len;
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			char c = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			if ((seed >> 20) % 4 == 0 && n > 1) {
				memmove(chunk + at, chunk + at + 1, n - at);   /* delete */
				n--;
			} else {
				chunk[at] = c;                                  /* replace */
			}
		}
		llm_asm a;
		cog_buf scratch = COG_BUF_INIT;
		llm_asm_init(&a, NULL);
		int rc = llm_openai_fast_chunk(chunk, n, &scratch, &a);
		if (rc == 1) {
			taken++;
			if (!tree_agrees(chunk, n, &a))
				ck_abort_msg("fast path disagrees on: %.*s", (int)n, chunk);
		} else if (rc != 0 || a.text.len || a.model) {
			ck_abort_msg("declined but changed the answer: %.*s", (int)n, chunk);
		}
		llm_asm_dispose(&a);
		cog_buf_dispose(&scratch);
	}
	cog_free(chunk);
	ck_assert_int_gt(taken, 1000);   /* harmless damage (in skipped text) */
}
END_TEST

/* The stream from bytes to answer (SSE reader, chunk handler, assembler
 * with a streaming caller), as provider_http.c wires them. */
typedef struct feed {
	llm_asm *a;
	void *state;
	bool done;
} feed;

static int feed_event(const char *type, const char *data, size_t len, const char *id,
                      void *user_data)
{
	(void)id;
	feed *f = user_data;
	return llm_wire_openai.stream_event(NULL, f->state, type, data, len, f->a, &f->done);
}

/* Chunks per second over n copies of chunk_json, fed in 16 KiB reads. */
static double stream_rate(const char *chunk_json, int n)
{
	cog_buf sse = COG_BUF_INIT;
	for (int i = 0; i < n; i++) {
		cog_buf_puts(&sse, "data: ");
		cog_buf_puts(&sse, chunk_json);
		cog_buf_puts(&sse, "\n\n");
	}
	cog_buf_puts(&sse, "data: [DONE]\n\n");
	ck_assert(!sse.failed);
	events ev;
	memset(&ev, 0, sizeof(ev));
	cog_llm_call call = COG_LLM_CALL_INIT;
	call.on_event = count_event;
	call.event_user_data = &ev;
	llm_asm a;
	llm_asm_init(&a, &call);
	feed f = { &a, llm_wire_openai.stream_state_new(NULL, NULL), false };
	llm_sse reader;
	llm_sse_init(&reader, feed_event, &f);
	uint64_t t0 = cog_clock_mono_ns();
	int rc = 0;
	for (size_t off = 0; off < sse.len && rc == 0; off += 16384)
		rc = llm_sse_feed(&reader, sse.ptr + off,
		                  sse.len - off < 16384 ? sse.len - off : 16384);
	if (rc == 0)
		rc = llm_sse_finish(&reader);
	cJSON *r = NULL;
	if (rc == 0)
		rc = llm_asm_finish(&a, &r);
	uint64_t ns = cog_clock_mono_ns() - t0;
	ck_assert_msg(rc == 0, "%d %s", rc, cog_error_last());
	ck_assert(f.done);
	ck_assert_int_eq(ev.count, n);
	cJSON_Delete(r);
	llm_sse_dispose(&reader);
	llm_wire_openai.stream_state_free(f.state);
	llm_asm_dispose(&a);
	cog_buf_dispose(&sse);
	return (double)n / ((double)ns / 1e9);
}

START_TEST(test_stream_rate)
{
	/* OpenAI's chunk as it is today (224 bytes), and a 150-byte one. */
	const char *small =
		"{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1744411650,"
		"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the\"},"
		"\"finish_reason\":null}]}";
	const char *real =
		"{\"id\":\"chatcmpl-BLHRiX8Ho0oiVME8vV50mvcEXG7ue\",\"object\":\"chat.completion.chunk\","
		"\"created\":1744411650,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":"
		"\"fp_44added55e\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},"
		"\"logprobs\":null,\"finish_reason\":null}]}";
	double r_small = stream_rate(small, 100000);
	double r_real = stream_rate(real, 100000);
	/* The cJSON path for comparison: a chunk the fast path declines
	 * (an empty tool_calls list changes nothing). */
	const char *slow =
		"{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1744411650,"
		"\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the\","
		"\"tool_calls\":[]},\"finish_reason\":null}]}";
	double r_slow = stream_rate(slow, 100000);
	printf("openai stream, 100k chunks: %.2f M/s (%zu-byte chunks), %.2f M/s (%zu-byte), "
		"cJSON path %.2f M/s\n", r_small / 1e6, strlen(small), r_real / 1e6, strlen(real),
		r_slow / 1e6);
}
END_TEST

/* ---- Retry-After (provider_status.c), which every provider's 429 uses ---- */

START_TEST(test_retry_after)
{
	const int64_t t = 784111777000;   /* Sun, 06 Nov 1994 08:49:37 GMT */
	ck_assert_uint_eq(llm_retry_after_ms("2", NULL, t), 2000);
	ck_assert_uint_eq(llm_retry_after_ms(" 3 ", NULL, t), 3000);
	ck_assert_uint_eq(llm_retry_after_ms("1.5", NULL, t), 1500);
	ck_assert_uint_eq(llm_retry_after_ms("2", "250", t), 250);     /* the finer one */
	ck_assert_uint_eq(llm_retry_after_ms(NULL, "0.5", t), 1);
	ck_assert_uint_eq(llm_retry_after_ms("2", "soon", t), 2000);
	ck_assert_uint_eq(llm_retry_after_ms(NULL, NULL, t), 0);
	ck_assert_uint_eq(llm_retry_after_ms("", NULL, t), 0);
	ck_assert_uint_eq(llm_retry_after_ms("-1", NULL, t), 0);
	ck_assert_uint_eq(llm_retry_after_ms("2s", NULL, t), 0);
	ck_assert_uint_eq(llm_retry_after_ms("99999999", NULL, t), 3600000);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", NULL, t - 5000), 5000);
	ck_assert_uint_eq(llm_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", NULL, t - 5000), 5000);
	ck_assert_uint_eq(llm_retry_after_ms("Sun Nov  6 08:49:37 1994", NULL, t - 5000), 5000);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", NULL, t + 1), 0);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", NULL, 0), 3600000);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMTX", NULL, t - 5000), 0);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", NULL, t - 5000), 0);
	ck_assert_uint_eq(llm_retry_after_ms("Sun, 32 Nov 1994 08:49:37 GMT", NULL, t - 5000), 0);
	ck_assert_uint_eq(llm_retry_after_ms("Thu, 01 Jan 1970 00:00:10 GMT", NULL, 0), 10000);
}
END_TEST

static Suite *assemble_suite(void)
{
	Suite *s = suite_create("llm-assemble");
	TCase *tc = tcase_create("assemble");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_text_events);
	tcase_add_test(tc, test_no_stream);
	tcase_add_test(tc, test_parallel_interleaved);
	tcase_add_test(tc, test_calls_sorted_by_index);
	tcase_add_test(tc, test_arguments);
	tcase_add_test(tc, test_missing_ids);
	tcase_add_test(tc, test_content_and_finish);
	tcase_add_test(tc, test_bad_pieces);
	tcase_add_test(tc, test_tool_call_cap);
	tcase_add_test(tc, test_response_events);
	tcase_add_test(tc, test_abort_from_callback);
	tcase_add_test(tc, test_callback_message_kept);
	tcase_add_test(tc, test_text_rate);
	tcase_add_test(tc, test_fast_chunk_shapes);
	tcase_add_test(tc, test_fast_chunk_mutations);
	tcase_add_test(tc, test_stream_rate);
	tcase_add_test(tc, test_retry_after);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(assemble_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failures == 0 ? 0 : 1;
}
