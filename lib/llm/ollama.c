/*
 * Ollama's native API: POST {base}/api/chat and {base}/api/embed. Streams
 * are newline-delimited JSON, one object per line, the last with
 * "done":true and the counts.
 *
 * The translation:
 *   - messages keep their roles; content null becomes ""; an assistant's
 *     tool_calls are {"function":{"name","arguments":{...}}} (Ollama has no
 *     call ids); a tool message carries "tool_name", the name of the call
 *     it answers (found by its tool_call_id among the earlier calls);
 *   - tools in the OpenAI function shape;
 *   - "stream" is always sent, since Ollama streams when it is absent;
 *   - structured output is "format": the JSON schema, or "json";
 *   - temperature, top_p, max_tokens (num_predict), stop and seed go in
 *     "options";
 *   - tool_choice: Ollama cannot force a tool. "none" sends no tools and
 *     {"name"} sends only that one; "required" sends them all and leaves
 *     the choice to the model.
 * Answers are read in ollama_answer.c.
 */
#include <string.h>

#include "ollama_int.h"

/* ---- requests ---- */

static const char *request_model(const llm_provider *p, const cJSON *request)
{
	const char *model = cog_json_get_string(request, "model");
	return model ? model : p->model;
}

/* The name of the call a tool message answers, from the assistant
 * messages before it (NULL if none has that id). */
static const char *answered_tool(const cJSON *messages, const cJSON *tool_msg)
{
	const char *id = cog_json_get_string(tool_msg, "tool_call_id");
	const char *name = NULL;
	const cJSON *msg, *call;
	cJSON_ArrayForEach(msg, messages) {
		if (msg == tool_msg || !id)
			break;
		cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
			const char *call_id = cog_json_get_string(call, "id");
			if (call_id && strcmp(call_id, id) == 0)
				name = cog_json_get_string(call, "name");
		}
	}
	return name;
}

static cJSON *tool_call(const cJSON *ours)
{
	const char *name = cog_json_get_string(ours, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(ours, "arguments");
	cJSON *call = cJSON_CreateObject();
	cJSON *fn = cJSON_AddObjectToObject(call, "function");
	cJSON *copy = cJSON_IsObject(args) ? cJSON_Duplicate(args, true) : cJSON_CreateObject();
	if (!call || !fn || !copy || !cJSON_AddStringToObject(fn, "name", name ? name : "") ||
	    !cJSON_AddItemToObject(fn, "arguments", copy)) {
		cJSON_Delete(call);
		cJSON_Delete(copy);
		return NULL;
	}
	return call;
}

static cJSON *message(const cJSON *messages, const cJSON *ours)
{
	const char *role = cog_json_get_string(ours, "role");
	const char *content = cog_json_get_string(ours, "content");
	cJSON *msg = cJSON_CreateObject();
	if (!msg || !cJSON_AddStringToObject(msg, "role", role ? role : "user") ||
	    !cJSON_AddStringToObject(msg, "content", content ? content : ""))
		goto oom;
	if (role && strcmp(role, "tool") == 0) {
		const char *name = cog_json_get_string(ours, "name");
		if (!name)
			name = answered_tool(messages, ours);
		if (name && !cJSON_AddStringToObject(msg, "tool_name", name))
			goto oom;
	}
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(ours, "tool_calls");
	if (cJSON_GetArraySize(calls) > 0) {
		cJSON *out = cJSON_AddArrayToObject(msg, "tool_calls");
		const cJSON *call;
		if (!out)
			goto oom;
		cJSON_ArrayForEach(call, calls) {
			cJSON *c = tool_call(call);
			if (!c || !cJSON_AddItemToArray(out, c)) {
				cJSON_Delete(c);
				goto oom;
			}
		}
	}
	return msg;
oom:
	cJSON_Delete(msg);
	return NULL;
}

static cJSON *tool_def(const cJSON *ours)
{
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(ours, "input_schema");
	const char *description = cog_json_get_string(ours, "description");
	cJSON *tool = cJSON_CreateObject();
	cJSON *fn = cJSON_CreateObject();
	cJSON *params = cJSON_IsObject(schema) ? cJSON_Duplicate(schema, true)
	                                       : cJSON_CreateObject();
	if (!tool || !fn || !params || !cJSON_AddStringToObject(tool, "type", "function") ||
	    !cJSON_AddStringToObject(fn, "name", cog_json_get_string(ours, "name")) ||
	    (description && !cJSON_AddStringToObject(fn, "description", description)) ||
	    (!cJSON_IsObject(schema) && !cJSON_AddStringToObject(params, "type", "object")) ||
	    !cJSON_AddItemToObject(fn, "parameters", params)) {
		cJSON_Delete(tool);
		cJSON_Delete(fn);
		cJSON_Delete(params);
		return NULL;
	}
	/* params belongs to fn from here on */
	if (!cJSON_AddItemToObject(tool, "function", fn)) {
		cJSON_Delete(tool);
		cJSON_Delete(fn);
		return NULL;
	}
	return tool;
}

static int add_tools(cJSON *body, const cJSON *request)
{
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(request, "tool_choice");
	const char *only = cog_json_get_string(choice, "name");
	if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0)
		return COG_OK;
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(request, "tools");
	if (cJSON_GetArraySize(tools) == 0)
		return COG_OK;
	cJSON *out = cJSON_AddArrayToObject(body, "tools");
	if (!out)
		return cog__oom("ollama: request body");
	const cJSON *tool;
	cJSON_ArrayForEach(tool, tools) {
		const char *name = cog_json_get_string(tool, "name");
		if (!name)
			return cog__error(COG_EINVAL, "ollama: /tools: a tool has no name");
		if (only && strcmp(only, name) != 0)
			continue;
		cJSON *def = tool_def(tool);
		if (!def || !cJSON_AddItemToArray(out, def)) {
			cJSON_Delete(def);
			return cog__oom("ollama: request body");
		}
	}
	if (only && cJSON_GetArraySize(out) == 0)
		return cog__error(COG_EINVAL, "ollama: /tool_choice: no tool is named "
			"\"%.64s\"", only);
	return COG_OK;
}

static int add_format(cJSON *body, const cJSON *request)
{
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(request, "response_format");
	const char *type = cog_json_get_string(format, "type");
	if (!type || strcmp(type, "text") == 0)
		return COG_OK;
	if (strcmp(type, "json_object") == 0)
		return cJSON_AddStringToObject(body, "format", "json") ? COG_OK
			: cog__oom("ollama: request body");
	const cJSON *schema = cog_json_pointer_get(format, "/json_schema/schema");
	if (strcmp(type, "json_schema") != 0 || !cJSON_IsObject(schema))
		return cog__error(COG_EINVAL, "ollama: /response_format: a %.40s format "
			"without a schema object cannot be asked of Ollama", type);
	cJSON *copy = cJSON_Duplicate(schema, true);
	if (!copy || !cJSON_AddItemToObject(body, "format", copy)) {
		cJSON_Delete(copy);
		return cog__oom("ollama: request body");
	}
	return COG_OK;
}

static int add_options(cJSON *body, const cJSON *request)
{
	static const char *const numbers[][2] = {
		{ "temperature", "temperature" }, { "top_p", "top_p" },
		{ "max_tokens", "num_predict" }, { "seed", "seed" },
	};
	cJSON *options = cJSON_CreateObject();
	if (!options)
		return cog__oom("ollama: request body");
	bool ok = true;
	for (size_t i = 0; i < COG_ARRAY_LEN(numbers) && ok; i++) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(request, numbers[i][0]);
		if (cJSON_IsNumber(n))
			ok = cJSON_AddNumberToObject(options, numbers[i][1], n->valuedouble) != NULL;
	}
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(request, "stop");
	if (ok && cJSON_GetArraySize(stop) > 0) {
		cJSON *copy = cJSON_Duplicate(stop, true);
		ok = copy && cJSON_AddItemToObject(options, "stop", copy);
		if (!ok)
			cJSON_Delete(copy);
	}
	if (!ok) {
		cJSON_Delete(options);
		return cog__oom("ollama: request body");
	}
	if (!options->child) {
		cJSON_Delete(options);
	} else if (!cJSON_AddItemToObject(body, "options", options)) {
		cJSON_Delete(options);
		return cog__oom("ollama: request body");
	}
	return COG_OK;
}

static int build_chat(const llm_provider *p, const cJSON *request, bool stream,
                      cJSON *body)
{
	const char *model = request_model(p, request);
	if (!model)
		return cog__error(COG_EINVAL, "ollama: the request names no model and the "
			"provider has no default");
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	cJSON *out = NULL;
	if (!cJSON_AddStringToObject(body, "model", model) ||
	    !(out = cJSON_AddArrayToObject(body, "messages")))
		return cog__oom("ollama: request body");
	const cJSON *msg;
	cJSON_ArrayForEach(msg, messages) {
		cJSON *m = message(messages, msg);
		if (!m || !cJSON_AddItemToArray(out, m)) {
			cJSON_Delete(m);
			return cog__oom("ollama: request body");
		}
	}
	int rc = add_tools(body, request);
	if (!rc && !cJSON_AddBoolToObject(body, "stream", stream))
		rc = cog__oom("ollama: request body");
	if (!rc)
		rc = add_format(body, request);
	return rc ? rc : add_options(body, request);
}

int llm_ollama_print_body(cJSON *root, int rc, cog_buf *body)
{
	char *text = rc ? NULL : cog_json_print(root);
	cJSON_Delete(root);
	if (!rc && (!text || cog_buf_puts(body, text)))
		rc = cog__oom("ollama: request body");
	cog_free(text);
	return rc;
}

static int ollama_chat_body(const llm_provider *p, const cJSON *request, bool stream,
                            cog_buf *body)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return cog__oom("ollama: request body");
	return llm_ollama_print_body(root, build_chat(p, request, stream, root), body);
}

/* ---- embeddings ---- */

static int ollama_embed_body(const llm_provider *p, const cJSON *request, cog_buf *body)
{
	const char *model = request_model(p, request);
	if (!model)
		return cog__error(COG_EINVAL, "ollama: the embedding request names no model "
			"and the provider has no default");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(request, "input");
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(request, "dimensions");
	cJSON *root = cJSON_CreateObject();
	cJSON *copy = cJSON_Duplicate(input, true);
	int rc = COG_OK;
	if (!root || !copy || !cJSON_AddStringToObject(root, "model", model) ||
	    !cJSON_AddItemToObject(root, "input", copy)) {
		cJSON_Delete(copy);
		rc = cog__oom("ollama: request body");
	} else if (cJSON_IsNumber(dims) &&
	           !cJSON_AddNumberToObject(root, "dimensions", dims->valuedouble)) {
		rc = cog__oom("ollama: request body");
	}
	return llm_ollama_print_body(root, rc, body);
}

/* {"error":"model \"x\" not found, try pulling it first"} */
static const char *ollama_error_message(const cJSON *answer)
{
	return cog_json_get_string(answer, "error");
}

const llm_wire llm_wire_ollama = {
	.name = "ollama",
	.default_base_url = "http://127.0.0.1:11434",
	.stream_kind = LLM_STREAM_NDJSON,
	.chat_path = "/api/chat",
	.embed_path = "/api/embed",
	.chat_body = ollama_chat_body,
	.chat_parse = llm_ollama_chat_parse,
	.stream_event = llm_ollama_stream_event,
	.stream_state_new = llm_ollama_stream_state_new,
	.stream_state_free = llm_ollama_stream_state_free,
	.embed_body = ollama_embed_body,
	.embed_parse = llm_ollama_embed_parse,
	.error_message = ollama_error_message,
};
