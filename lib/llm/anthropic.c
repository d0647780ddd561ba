/*
 * Anthropic Messages (POST {base}/messages): our request → its body, and
 * the wire table. Answers and streams are read in anthropic_answer.c.
 *
 * The translation:
 *   - the messages become "system" and turns of content blocks
 *     (anthropic_turns.c says how);
 *   - tool_choice auto | required | {"name"} | none → {"type":"auto" |
 *     "any" | "tool" | "none"};
 *   - max_tokens is required: the request's, else the provider's default;
 *   - temperature is clamped to Anthropic's 0..1 (ours goes to 2; both ends
 *     mean "most random", and refusing would break fallback between
 *     providers);
 *   - structured output is a forced tool (anthropic_int.h).
 */
#include <string.h>

#include "anthropic_int.h"

#define FALLBACK_MAX_TOKENS 4096u

/* ---- what both halves use ---- */

static bool forced_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ANTHROPIC_TOOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int llm_anthropic_forced_tool(const cJSON *request, llm_anthropic_forced *out)
{
	memset(out, 0, sizeof(*out));
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(request, "response_format");
	const char *type = cog_json_get_string(format, "type");
	if (!type || strcmp(type, "text") == 0)
		return COG_OK;
	if (strcmp(type, "json_object") == 0) {
		out->name = "json";
		return COG_OK;
	}
	if (strcmp(type, "json_schema") != 0)
		return cog__error(COG_EINVAL, "anthropic: /response_format/type: "
			"\"%.40s\" cannot be asked of Anthropic", type);
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(format, "json_schema");
	const char *name = cog_json_get_string(js, "name");
	out->name = name ? name : "json";
	if (!forced_name_ok(out->name))
		return cog__error(COG_EINVAL, "anthropic: /response_format/json_schema/name: "
			"\"%.70s\" cannot name the tool that carries structured output "
			"(1 to 64 of A-Z a-z 0-9 _ -)", out->name);
	out->description = cog_json_get_string(js, "description");
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
	if (cJSON_IsObject(schema))
		out->schema = schema;
	return COG_OK;
}

const char *llm_anthropic_finish_reason(const char *stop_reason, bool forced_came)
{
	static const struct { const char *theirs, *ours; } map[] = {
		{ "end_turn", "stop" },
		{ "stop_sequence", "stop" },
		{ "pause_turn", "stop" },
		{ "max_tokens", "length" },
		{ "model_context_window_exceeded", "length" },
		{ "tool_use", "tool_calls" },
		{ "refusal", "content_filter" },
	};
	if (!stop_reason)
		return NULL;
	if (forced_came && strcmp(stop_reason, "tool_use") == 0)
		return "stop";
	for (size_t i = 0; i < COG_ARRAY_LEN(map); i++)
		if (strcmp(stop_reason, map[i].theirs) == 0)
			return map[i].ours;
	return NULL;
}

/* ---- the request body ---- */

static cJSON *tool_def(const char *name, const char *description, const cJSON *schema)
{
	cJSON *tool = cJSON_CreateObject();
	cJSON *input = schema ? cJSON_Duplicate(schema, true) : cJSON_CreateObject();
	if (!tool || !input || !cJSON_AddStringToObject(tool, "name", name) ||
	    (description && !cJSON_AddStringToObject(tool, "description", description)) ||
	    (!schema && !cJSON_AddStringToObject(input, "type", "object")) ||
	    !cJSON_AddItemToObject(tool, "input_schema", input)) {
		cJSON_Delete(tool);
		cJSON_Delete(input);
		return NULL;
	}
	return tool;
}

static cJSON *tool_choice(const char *type, const char *name)
{
	cJSON *choice = cJSON_CreateObject();
	if (choice && (!cJSON_AddStringToObject(choice, "type", type) ||
	               (name && !cJSON_AddStringToObject(choice, "name", name)))) {
		cJSON_Delete(choice);
		return NULL;
	}
	return choice;
}

/* "tools" and "tool_choice" of the body. */
static int add_tools(cJSON *body, const cJSON *request, const llm_anthropic_forced *forced)
{
	const cJSON *ours = cJSON_GetObjectItemCaseSensitive(request, "tools");
	if (cJSON_GetArraySize(ours) == 0 && !forced->name)
		return COG_OK;
	cJSON *tools = cJSON_AddArrayToObject(body, "tools");
	if (!tools)
		return cog__oom("anthropic: request body");
	const cJSON *tool;
	cJSON_ArrayForEach(tool, ours) {
		const char *name = cog_json_get_string(tool, "name");
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");
		if (!name)
			return cog__error(COG_EINVAL, "anthropic: /tools: a tool has no name");
		if (forced->name && strcmp(name, forced->name) == 0)
			return cog__error(COG_EINVAL, "anthropic: /tools: tool \"%s\" has the "
				"name of the structured-output schema; rename one of them", name);
		cJSON *def = tool_def(name, cog_json_get_string(tool, "description"),
			cJSON_IsObject(schema) ? schema : NULL);
		if (!def || !cJSON_AddItemToArray(tools, def)) {
			cJSON_Delete(def);
			return cog__oom("anthropic: request body");
		}
	}
	cJSON *choice = NULL;
	if (forced->name) {
		cJSON *def = tool_def(forced->name, forced->description ? forced->description :
			"Give your answer as this tool's input.", forced->schema);
		if (!def || !cJSON_AddItemToArray(tools, def)) {
			cJSON_Delete(def);
			return cog__oom("anthropic: request body");
		}
		choice = tool_choice("tool", forced->name);
	} else {
		const cJSON *ours_choice = cJSON_GetObjectItemCaseSensitive(request, "tool_choice");
		const char *named = cog_json_get_string(ours_choice, "name");
		if (named)
			choice = tool_choice("tool", named);
		else if (!cJSON_IsString(ours_choice))
			return COG_OK;
		else if (strcmp(ours_choice->valuestring, "required") == 0)
			choice = tool_choice("any", NULL);
		else if (strcmp(ours_choice->valuestring, "none") == 0)
			choice = tool_choice("none", NULL);
		else if (strcmp(ours_choice->valuestring, "auto") == 0)
			choice = tool_choice("auto", NULL);
		else
			return cog__error(COG_EINVAL, "anthropic: /tool_choice: \"%.40s\" is "
				"not auto, none or required", ours_choice->valuestring);
	}
	if (!choice || !cJSON_AddItemToObject(body, "tool_choice", choice)) {
		cJSON_Delete(choice);
		return cog__oom("anthropic: request body");
	}
	return COG_OK;
}

/* model, max_tokens, sampling and stop sequences. */
static int add_settings(const llm_provider *p, cJSON *body, const cJSON *request)
{
	const char *model = cog_json_get_string(request, "model");
	if (!model)
		model = p->model;
	if (!model)
		return cog__error(COG_EINVAL, "anthropic: the request names no model "
			"and the provider has no default");
	unsigned int fallback = p->default_max_tokens ? p->default_max_tokens
	                                              : FALLBACK_MAX_TOKENS;
	if (!cJSON_AddStringToObject(body, "model", model) ||
	    !cJSON_AddNumberToObject(body, "max_tokens",
	                             llm_request_max_tokens(request, fallback)))
		return cog__oom("anthropic: request body");
	const cJSON *temperature = cJSON_GetObjectItemCaseSensitive(request, "temperature");
	double t = cJSON_IsNumber(temperature) ? temperature->valuedouble : 0;
	if (cJSON_IsNumber(temperature) &&
	    !cJSON_AddNumberToObject(body, "temperature", t > 1.0 ? 1.0 : t))
		return cog__oom("anthropic: request body");
	const cJSON *top_p = cJSON_GetObjectItemCaseSensitive(request, "top_p");
	if (cJSON_IsNumber(top_p) && !cJSON_AddNumberToObject(body, "top_p", top_p->valuedouble))
		return cog__oom("anthropic: request body");
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(request, "stop");
	if (cJSON_GetArraySize(stop) > 0) {
		cJSON *copy = cJSON_Duplicate(stop, true);
		if (!copy || !cJSON_AddItemToObject(body, "stop_sequences", copy)) {
			cJSON_Delete(copy);
			return cog__oom("anthropic: request body");
		}
	}
	return COG_OK;
}

static int build_body(const llm_provider *p, const cJSON *request, bool stream,
                      const llm_anthropic_forced *forced, cJSON *body)
{
	int rc = add_settings(p, body, request);
	if (!rc)
		rc = llm_anthropic_turns(request, body);
	if (!rc)
		rc = add_tools(body, request, forced);
	if (!rc && stream && !cJSON_AddTrueToObject(body, "stream"))
		rc = cog__oom("anthropic: request body");
	return rc;
}

static int anthropic_chat_body(const llm_provider *p, const cJSON *request,
                               bool stream, cog_buf *body)
{
	llm_anthropic_forced forced;
	int rc = llm_anthropic_forced_tool(request, &forced);
	if (rc)
		return rc;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return cog__oom("anthropic: request body");
	rc = build_body(p, request, stream, &forced, root);
	char *text = rc ? NULL : cog_json_print(root);
	cJSON_Delete(root);
	if (!rc && !text)
		rc = cog__oom("anthropic: request body");
	if (!rc && cog_buf_puts(body, text))
		rc = cog__oom("anthropic: request body");
	cog_free(text);
	return rc;
}

/* {"type":"error","error":{"type":"...","message":"..."}} */
static const char *anthropic_error_message(const cJSON *answer)
{
	return cog_json_get_string(cJSON_GetObjectItemCaseSensitive(answer, "error"),
	                           "message");
}

const llm_wire llm_wire_anthropic = {
	.name = "anthropic",
	.default_base_url = "https://api.anthropic.com/v1",
	.stream_kind = LLM_STREAM_SSE,
	.chat_path = "/messages",
	.embed_path = NULL,
	.chat_body = anthropic_chat_body,
	.chat_parse = llm_anthropic_chat_parse,
	.stream_event = llm_anthropic_stream_event,
	.stream_state_new = llm_anthropic_stream_state_new,
	.stream_state_free = llm_anthropic_stream_state_free,
	.embed_body = NULL,
	.embed_parse = NULL,
	.error_message = anthropic_error_message,
};
