/*
 * The OpenAI chat completions wire format (also vLLM, llama.cpp server,
 * LM Studio, OpenRouter and other compatible servers): our request as its
 * body, its whole answers and error bodies. Streams are in openai_stream.c,
 * embeddings in openai_embed.c.
 *
 * Compatible servers accept less than OpenAI does, so the body says only
 * what the request says (no defaults of ours) and uses the widely
 * understood spellings ("max_tokens", not "max_completion_tokens").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "openai_int.h"

/* ---- shared with the stream ---- */

const char *llm_openai_finish_reason(const char *reason)
{
	static const char *const same[] = { "stop", "length", "tool_calls", "content_filter" };
	if (!reason)
		return NULL;
	for (size_t i = 0; i < COG_ARRAY_LEN(same); i++)
		if (strcmp(reason, same[i]) == 0)
			return same[i];
	if (strcmp(reason, "function_call") == 0)
		return "tool_calls";
	return NULL;
}

static uint64_t count_of(const cJSON *object, const char *name)
{
	double v = cog_json_get_number(object, name, 0);
	if (!isfinite(v) || v < 0)
		return 0;
	return v > 9e15 ? (uint64_t)9e15 : (uint64_t)v;
}

void llm_openai_usage(const cJSON *usage, llm_asm *a)
{
	if (!cJSON_IsObject(usage))
		return;
	a->input_tokens = count_of(usage, "prompt_tokens");
	a->output_tokens = count_of(usage, "completion_tokens");
	a->cached_tokens = count_of(cJSON_GetObjectItemCaseSensitive(usage,
		"prompt_tokens_details"), "cached_tokens");
	a->have_usage = true;
}

int llm_openai_model(llm_asm *a, const char *model, size_t len)
{
	if (a->model && strlen(a->model) == len && memcmp(a->model, model, len) == 0)
		return COG_OK;
	char *copy = cog__strndup(model, len);
	if (!copy)
		return a->status = cog__oom("openai: model");
	int rc = llm_asm_set_model(a, copy);
	cog_free(copy);
	return rc;
}

/* ---- the request body ---- */

/* Add a copy of src's member `name` to dst, if src has one. */
static int copy_member(cJSON *dst, const cJSON *src, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, name);
	if (!v)
		return COG_OK;
	cJSON *copy = cJSON_Duplicate(v, true);
	if (!copy || !cJSON_AddItemToObject(dst, name, copy)) {
		cJSON_Delete(copy);
		return COG_ENOMEM;
	}
	return COG_OK;
}

/* {"id","type":"function","function":{"name","arguments":"<JSON text>"}} */
static int add_tool_call(cJSON *list, const cJSON *call)
{
	cJSON *out = cJSON_CreateObject();
	if (!out || !cJSON_AddItemToArray(list, out)) {
		cJSON_Delete(out);
		return COG_ENOMEM;
	}
	cJSON *fn = NULL;
	if (copy_member(out, call, "id") || cog_json_add_string(out, "type", "function") ||
	    !(fn = cJSON_AddObjectToObject(out, "function")) || copy_member(fn, call, "name"))
		return COG_ENOMEM;
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
	const char *text = cog_json_get_string(call, "arguments_text");
	char *printed = NULL;
	if (cJSON_IsObject(args) && !(printed = cog_json_print(args)))
		return COG_ENOMEM;
	int rc = cog_json_add_string(fn, "arguments", printed ? printed : text ? text : "{}");
	cog_free(printed);
	return rc;
}

static int add_message(cJSON *list, const cJSON *m)
{
	const char *role = cog_json_get_string(m, "role");
	cJSON *out = cJSON_CreateObject();
	if (!out || !cJSON_AddItemToArray(list, out)) {
		cJSON_Delete(out);
		return COG_ENOMEM;
	}
	if (!role || cog_json_add_string(out, "role", role))
		return role ? COG_ENOMEM : cog__error(COG_EINVAL, "openai: a message has no role");
	bool assistant = strcmp(role, "assistant") == 0;
	const char *content = cog_json_get_string(m, "content");
	int rc = COG_OK;
	if (content)
		rc = cog_json_add_string(out, "content", content);
	else if (assistant)
		rc = cJSON_AddNullToObject(out, "content") ? COG_OK : COG_ENOMEM;
	else
		rc = cog_json_add_string(out, "content", "");
	if (!rc && strcmp(role, "tool") == 0)
		return copy_member(out, m, "tool_call_id");
	if (!rc)
		rc = copy_member(out, m, "name");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
	if (rc || !assistant || cJSON_GetArraySize(calls) == 0)
		return rc;
	cJSON *list_out = cJSON_AddArrayToObject(out, "tool_calls");
	if (!list_out)
		return COG_ENOMEM;
	const cJSON *call;
	cJSON_ArrayForEach(call, calls)
		if ((rc = add_tool_call(list_out, call)))
			return rc;
	return COG_OK;
}

static int add_tools(cJSON *body, const cJSON *tools)
{
	cJSON *list = cJSON_AddArrayToObject(body, "tools");
	if (!list)
		return COG_ENOMEM;
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		cJSON *out = cJSON_CreateObject();
		cJSON *fn = NULL;
		if (!out || !cJSON_AddItemToArray(list, out)) {
			cJSON_Delete(out);
			return COG_ENOMEM;
		}
		if (cog_json_add_string(out, "type", "function") ||
		    !(fn = cJSON_AddObjectToObject(out, "function")) ||
		    copy_member(fn, t, "name") || copy_member(fn, t, "description"))
			return COG_ENOMEM;
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
		cJSON *params = schema ? cJSON_Duplicate(schema, true)
		                       : cJSON_Parse("{\"type\":\"object\",\"properties\":{}}");
		if (!params || !cJSON_AddItemToObject(fn, "parameters", params)) {
			cJSON_Delete(params);
			return COG_ENOMEM;
		}
	}
	return COG_OK;
}

/* "auto" | "none" | "required" as they are; {"name"} names a function. */
static int add_tool_choice(cJSON *body, const cJSON *choice)
{
	if (cJSON_IsString(choice))
		return cog_json_add_string(body, "tool_choice", choice->valuestring);
	cJSON *out = cJSON_AddObjectToObject(body, "tool_choice");
	cJSON *fn = NULL;
	if (!out || cog_json_add_string(out, "type", "function") ||
	    !(fn = cJSON_AddObjectToObject(out, "function")) || copy_member(fn, choice, "name"))
		return COG_ENOMEM;
	return COG_OK;
}

/* OpenAI requires a name for a JSON schema; ours may have none. */
static int add_response_format(cJSON *body, const cJSON *format)
{
	cJSON *copy = cJSON_Duplicate(format, true);
	if (!copy || !cJSON_AddItemToObject(body, "response_format", copy)) {
		cJSON_Delete(copy);
		return COG_ENOMEM;
	}
	cJSON *js = cJSON_GetObjectItemCaseSensitive(copy, "json_schema");
	if (cJSON_IsObject(js) && !cJSON_GetObjectItemCaseSensitive(js, "name"))
		return cog_json_add_string(js, "name", "response");
	return COG_OK;
}

static int build_body(const cJSON *request, bool stream, cJSON *body)
{
	static const char *const passed[] = {
		"temperature", "top_p", "max_tokens", "stop", "seed", "user"
	};
	int rc = copy_member(body, request, "model");
	cJSON *messages = rc ? NULL : cJSON_AddArrayToObject(body, "messages");
	if (!messages)
		return COG_ENOMEM;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(request, "messages"))
		if ((rc = add_message(messages, m)))
			return rc;
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(request, "tools");
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(request, "tool_choice");
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(request, "response_format");
	if (cJSON_GetArraySize(tools) > 0 && (rc = add_tools(body, tools)))
		return rc;
	if (choice && (rc = add_tool_choice(body, choice)))
		return rc;
	if (format && (rc = add_response_format(body, format)))
		return rc;
	for (size_t i = 0; i < COG_ARRAY_LEN(passed); i++)
		if ((rc = copy_member(body, request, passed[i])))
			return rc;
	if (stream) {
		cJSON *options = NULL;
		if (cog_json_add_bool(body, "stream", true) ||
		    !(options = cJSON_AddObjectToObject(body, "stream_options")) ||
		    cog_json_add_bool(options, "include_usage", true))
			return COG_ENOMEM;
	}
	return COG_OK;
}

/* Print a finished body into buf. */
static int put_body(cJSON *body, cog_buf *buf, int rc)
{
	char *text = rc ? NULL : cog_json_print(body);
	cJSON_Delete(body);
	if (rc == COG_ENOMEM || (!rc && !text))
		return cog__oom("openai: request body");
	if (rc)
		return rc;
	rc = cog_buf_puts(buf, text);
	cog_free(text);
	return rc;
}

int llm_openai_body_tree(const cJSON *request, bool stream, cog_buf *buf)
{
	cog__json_init();
	cJSON *body = cJSON_CreateObject();
	return put_body(body, buf, body ? build_body(request, stream, body) : COG_ENOMEM);
}

static int chat_body(const llm_provider *p, const cJSON *request, bool stream,
                     cog_buf *buf)
{
	(void)p;
	if (llm_openai_body_direct(request, stream, buf) == COG_OK)
		return COG_OK;
	return llm_openai_body_tree(request, stream, buf);
}

/* ---- whole answers ---- */

static int proto(const char *what)
{
	return cog__error(COG_EPROTO, "openai: answer: %s", what);
}

/* A 2xx answer that is an error report (some compatible servers). */
static int reported_error(const cJSON *answer, llm_asm *a);

/* One call: function {"name","arguments"} with arguments as text (or,
 * from some servers, an object). */
static int parse_call(llm_asm *a, int index, const char *id, const cJSON *fn)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	int rc = llm_asm_tool_start(a, index, id, cog_json_get_string(fn, "name"));
	if (!rc && cJSON_IsString(args))
		rc = llm_asm_tool_args(a, index, args->valuestring, strlen(args->valuestring));
	else if (!rc && cJSON_IsObject(args))
		rc = llm_asm_tool_args_object(a, index, args);
	return rc;
}

static int parse_tool_calls(const cJSON *calls, llm_asm *a)
{
	int index = 0;
	const cJSON *call;
	cJSON_ArrayForEach(call, calls) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
		if (!cJSON_IsObject(fn))
			return cog__error(COG_EPROTO,
				"openai: answer: choices[0].message.tool_calls[%d]: no function", index);
		int rc = parse_call(a, index, cog_json_get_string(call, "id"), fn);
		if (rc)
			return rc;
		index++;
	}
	return COG_OK;
}

/* content: a string, or (some servers) an array of text parts. */
static int parse_content(const cJSON *message, llm_asm *a)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
	const char *refusal = cog_json_get_string(message, "refusal");
	int rc = COG_OK;
	if (cJSON_IsString(content) && content->valuestring[0]) {
		rc = llm_asm_text(a, content->valuestring, strlen(content->valuestring));
	} else if (cJSON_IsArray(content)) {
		const cJSON *part;
		cJSON_ArrayForEach(part, content) {
			const char *text = cog_json_get_string(part, "text");
			if (text && (rc = llm_asm_text(a, text, strlen(text))))
				break;
		}
	} else if (refusal) {
		/* A refusal is the model's answer; it has no other place. */
		rc = llm_asm_text(a, refusal, strlen(refusal));
	}
	return rc;
}

static int chat_parse(const llm_provider *p, const cJSON *request,
                      const cJSON *answer, llm_asm *a)
{
	(void)p; (void)request;
	if (!cJSON_IsObject(answer))
		return proto("not a JSON object");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(answer, "error");
	if (error && !cJSON_IsNull(error))
		return reported_error(answer, a);
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(answer, "choices");
	const cJSON *choice = cJSON_GetArrayItem(choices, 0);
	if (!cJSON_IsArray(choices) || !choice)
		return proto("choices is missing or empty");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
	if (!cJSON_IsObject(message))
		return proto("choices[0].message is missing");
	int rc = parse_content(message, a);
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");
	const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(message, "function_call");
	if (!rc && cJSON_IsArray(calls))
		rc = parse_tool_calls(calls, a);
	else if (!rc && cJSON_IsObject(legacy))
		rc = parse_call(a, 0, NULL, legacy);   /* the pre-tools shape */
	const char *reason = cog_json_get_string(choice, "finish_reason");
	if (!rc && llm_openai_finish_reason(reason))
		rc = llm_asm_set_finish(a, llm_openai_finish_reason(reason));
	llm_openai_usage(cJSON_GetObjectItemCaseSensitive(answer, "usage"), a);
	const char *model = cog_json_get_string(answer, "model");
	if (!rc && model)
		rc = llm_openai_model(a, model, strlen(model));
	return rc == COG_ENOMEM ? cog__oom("openai: answer") : rc;
}

/* ---- errors ---- */

static const char *error_message(const cJSON *answer)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(answer, "error");
	const char *text = cog_json_get_string(error, "message");
	if (!text && cJSON_IsString(error))
		text = error->valuestring;
	if (!text)
		text = cog_json_get_string(answer, "message");
	if (!text)
		text = cog_json_get_string(answer, "detail");
	return text;
}

/* The server's failure, told in a 200: an overload or a server error for
 * the router, which retries those on HTTP 503 (see cog_llm_vtable). The
 * key, should the text quote it, is masked by provider_chat.c. */
static int reported_error(const cJSON *answer, llm_asm *a)
{
	if (a->call)
		a->call->http_status = 503;
	const char *text = error_message(answer);
	char *clean = cog__redact_text(text ? text : "no message");
	int rc = cog__error(COG_EUNAVAILABLE, "openai: the server reported an error: %.300s",
		clean ? clean : "(out of memory)");
	cog_free(clean);
	return rc;
}

const llm_wire llm_wire_openai = {
	.name = "openai",
	.default_base_url = "https://api.openai.com/v1",
	.stream_kind = LLM_STREAM_SSE,
	.chat_path = "/chat/completions",
	.embed_path = "/embeddings",
	.chat_body = chat_body,
	.chat_parse = chat_parse,
	.chat_fast = llm_openai_fast_answer,
	.stream_event = llm_openai_stream_event,
	.stream_state_new = llm_openai_stream_state_new,
	.stream_state_free = llm_openai_stream_state_free,
	.embed_body = llm_openai_embed_body,
	.embed_parse = llm_openai_embed_parse,
	.error_message = error_message,
};
