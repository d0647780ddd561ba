/*
 * The messages of a request (see request.c): roles, content (text parts
 * joined into one string, a tool result of any JSON value printed as
 * text) and an assistant's tool calls (OpenAI's {"function":{"name",
 * "arguments":"text"}} becomes {"name","arguments":{...}}). Tool
 * definitions are checked in request_tools.c.
 */
#include <stdio.h>
#include <string.h>

#include "request_int.h"

#define FAIL(ptr, ...) llm_req_fail(fn, "request", ptr, __VA_ARGS__)

/* Replace member `name` of object with a new string (s is copied). */
static int set_string(cJSON *object, const char *name, const char *s, const char *fn)
{
	cog__json_init();
	cJSON *v = cJSON_CreateString(s);
	if (!v)
		return cog__oom(fn);
	if (cJSON_GetObjectItemCaseSensitive(object, name))
		return cJSON_ReplaceItemInObjectCaseSensitive(object, name, v)
			? COG_OK : (cJSON_Delete(v), cog__oom(fn));
	return cJSON_AddItemToObject(object, name, v) ? COG_OK
		: (cJSON_Delete(v), cog__oom(fn));
}

/* A non-empty array whose elements are all objects with a string "type":
 * content parts. */
static bool is_parts(const cJSON *array)
{
	if (!cJSON_IsArray(array) || !array->child)
		return false;
	const cJSON *e;
	cJSON_ArrayForEach(e, array)
		if (!cJSON_IsObject(e) || !cog_json_get_string(e, "type"))
			return false;
	return true;
}

/* Content parts [{"type":"text","text":"..."}] → one string. */
static int join_parts(cJSON *message, cJSON *content, const char *ptr, const char *fn)
{
	cog_buf text = COG_BUF_INIT;
	int i = 0, rc = COG_OK;
	const cJSON *part;
	char where[96], got[80];
	cJSON_ArrayForEach(part, content) {
		const char *type = cog_json_get_string(part, "type");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
		snprintf(where, sizeof(where), "%s/content/%d", ptr, i++);
		if (!cJSON_IsObject(part) || !type || strcmp(type, "text")) {
			cJSON tv = { .type = cJSON_String, .valuestring = (char *)(type ? type : "") };
			llm_req_got(type ? &tv : part, got);
			rc = FAIL(where, "only text parts {\"type\":\"text\",\"text\":\"...\"} "
				"are supported (got %s%s)", type ? "type " : "", got);
			break;
		}
		if (!cJSON_IsString(t)) {
			llm_req_got(t, got);
			rc = FAIL(where, "a text part needs \"text\" as a string (got %s)", got);
			break;
		}
		if ((rc = cog_buf_puts(&text, t->valuestring)))
			break;
	}
	if (!rc)
		rc = set_string(message, "content", text.ptr ? text.ptr : "", fn);
	cog_buf_dispose(&text);
	return rc;
}

/* Argument text → object ("" or blanks mean {}). */
static int parse_arguments(cJSON **out, const cJSON *text, const char *where,
                           int index, const char *fn)
{
	char got[80];
	const char *s = text->valuestring;
	*out = NULL;
	if (s[strspn(s, " \t\r\n")] == '\0') {
		*out = cJSON_CreateObject();
		return *out ? COG_OK : cog__oom(fn);
	}
	llm_req_got(text, got);
	cJSON *parsed = NULL;
	if (cog_json_parse(&parsed, s, "arguments")) {
		if (cog_error_last_code() == COG_ENOMEM)
			return COG_ENOMEM;
		return FAIL(where, "message %d: the arguments text is not JSON (got %s)",
			index, got);
	}
	if (!cJSON_IsObject(parsed)) {
		cJSON_Delete(parsed);
		return FAIL(where, "message %d: the arguments text must be a JSON object "
			"(got %s)", index, got);
	}
	*out = parsed;
	return COG_OK;
}

/* One assistant tool call, either shape → {"id","name","arguments":{}}, or
 * {"id","name","arguments":null,"arguments_text"} as a response gives it. */
static int check_call(cJSON *calls, cJSON *call, int m, int c, const char *fn)
{
	static const char *const members[] = {
		"id", "type", "name", "arguments", "arguments_text", "function", NULL
	};
	static const char *const function_members[] = { "name", "arguments", NULL };
	char ptr[96], where[128], got[80];
	snprintf(ptr, sizeof(ptr), "/messages/%d/tool_calls/%d", m, c);
	llm_req_got(call, got);
	if (!cJSON_IsObject(call))
		return FAIL(ptr, "must be an object (got %s)", got);
	int rc = llm_req_members(call, members, fn, "request", ptr);
	if (rc)
		return rc;
	const cJSON *holder = call;         /* where name and arguments are */
	const char *sub = "";
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(call, "type");
	const cJSON *function = cJSON_GetObjectItemCaseSensitive(call, "function");
	if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "function") == 0)) {
		llm_req_got(type, got);
		snprintf(where, sizeof(where), "%s/type", ptr);
		return FAIL(where, "must be \"function\" (got %s)", got);
	}
	if (function) {
		snprintf(where, sizeof(where), "%s/function", ptr);
		llm_req_got(function, got);
		if (!cJSON_IsObject(function))
			return FAIL(where, "must be an object (got %s)", got);
		if (cJSON_GetObjectItemCaseSensitive(call, "name") ||
		    cJSON_GetObjectItemCaseSensitive(call, "arguments") ||
		    cJSON_GetObjectItemCaseSensitive(call, "arguments_text"))
			return FAIL(ptr, "has both \"function\" and name, arguments or "
				"arguments_text");
		if ((rc = llm_req_members(function, function_members, fn, "request", where)))
			return rc;
		holder = function;
		sub = "/function";
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(holder, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(holder, "arguments");
	snprintf(where, sizeof(where), "%s/id", ptr);
	llm_req_got(id, got);
	if (!cJSON_IsString(id) || !id->valuestring[0])
		return FAIL(where, "must be a non-empty string (got %s)", got);
	snprintf(where, sizeof(where), "%s%s/name", ptr, sub);
	llm_req_got(name, got);
	if (!cJSON_IsString(name) || !name->valuestring[0])
		return FAIL(where, "must be a non-empty string (got %s)", got);
	/* A response's call whose arguments were not an object ("arguments":
	 * null plus "arguments_text", see llm.h) goes back as it came. */
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(call, "arguments_text");
	snprintf(where, sizeof(where), "%s/arguments_text", ptr);
	llm_req_got(text, got);
	if (text && !cJSON_IsString(text))
		return FAIL(where, "must be a string (got %s)", got);
	if (text && !cJSON_IsNull(args))
		return FAIL(where, "only goes with \"arguments\":null (the arguments "
			"a model sent that were not a JSON object)");
	snprintf(where, sizeof(where), "%s%s/arguments", ptr, sub);
	cJSON *object = NULL;
	if (cJSON_IsNull(args)) {
		if (!text)
			return FAIL(where, "null needs \"arguments_text\" next to it, the "
				"model's text, as in a response (or send an object)");
		object = cJSON_CreateNull();
		rc = object ? COG_OK : cog__oom(fn);
	} else if (!args) {
		object = cJSON_CreateObject();
		rc = object ? COG_OK : cog__oom(fn);
	} else if (cJSON_IsString(args)) {
		rc = parse_arguments(&object, args, where, m, fn);
	} else if (cJSON_IsObject(args)) {
		object = cJSON_Duplicate(args, true);
		rc = object ? COG_OK : cog__oom(fn);
	} else {
		llm_req_got(args, got);
		rc = FAIL(where, "must be a JSON object or its text (got %s)", got);
	}
	if (rc)
		return rc;
	cJSON *normal = cJSON_CreateObject();
	if (!normal || cog_json_add_string(normal, "id", id->valuestring) ||
	    cog_json_add_string(normal, "name", name->valuestring) ||
	    !cJSON_AddItemToObject(normal, "arguments", object)) {
		cJSON_Delete(object);
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	if (text && cog_json_add_string(normal, "arguments_text", text->valuestring)) {
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	if (!cJSON_ReplaceItemViaPointer(calls, call, normal)) {
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	return COG_OK;
}

static int check_message(cJSON *message, int i, const char *fn)
{
	static const char *const members[] = {
		"role", "content", "tool_calls", "tool_call_id", "name", NULL
	};
	static const char *const keep[] = { "content", NULL };
	/* "/messages/<i>" without snprintf (once per message of every
	 * request); the rest of ptr is zeros. */
	char ptr[48] = "/messages/", digits[12];
	size_t n = 0, at = sizeof("/messages/") - 1;
	unsigned int u = (unsigned int)i;
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	while (n > 0)
		ptr[at++] = digits[--n];
	if (!cJSON_IsObject(message))
		return FAIL(ptr, "must be an object (got %s)", LLM_REQ_GOT(message));
	llm_req_drop_nulls(message, keep);
	int rc = llm_req_members(message, members, fn, "request", ptr);
	if (rc)
		return rc;
	const cJSON *role_item = cJSON_GetObjectItemCaseSensitive(message, "role");
	const char *role = cJSON_IsString(role_item) ? role_item->valuestring : "";
	if (strcmp(role, "system") && strcmp(role, "user") &&
	    strcmp(role, "assistant") && strcmp(role, "tool"))
		return FAIL(LLM_REQ_AT("%s/role", ptr),
			"must be one of system, user, assistant, tool (got %s)",
			LLM_REQ_GOT(role_item));
	bool assistant = strcmp(role, "assistant") == 0;
	bool tool = strcmp(role, "tool") == 0;

	cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
	if (cJSON_IsArray(content) && (!tool || is_parts(content))) {
		if ((rc = join_parts(message, content, ptr, fn)))
			return rc;
		content = cJSON_GetObjectItemCaseSensitive(message, "content");
	} else if (tool && content && !cJSON_IsString(content)) {
		/* A tool result may be any JSON value: the model reads text. */
		char *text = cog_json_print(content);
		rc = text ? set_string(message, "content", text, fn) : cog__oom(fn);
		cog_free(text);
		if (rc)
			return rc;
		content = cJSON_GetObjectItemCaseSensitive(message, "content");
	}
	/* Described as it was before an absent one became null. */
	char got[80] = "";
	if (!cJSON_IsString(content))
		llm_req_got(content, got);
	if (assistant && !content) {
		if (!cJSON_AddNullToObject(message, "content"))
			return cog__oom(fn);
		content = cJSON_GetObjectItemCaseSensitive(message, "content");
	}
	if (!cJSON_IsString(content) && !(assistant && cJSON_IsNull(content)))
		return FAIL(LLM_REQ_AT("%s/content", ptr), "must be a string%s (got %s)",
			assistant ? " or null" : "", got);

	cJSON *calls = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");
	if (calls && !assistant)
		return FAIL(ptr, "only assistant messages have tool_calls (role is %s)", role);
	if (calls && !cJSON_IsArray(calls))
		return FAIL(LLM_REQ_AT("%s/tool_calls", ptr), "must be an array (got %s)",
			LLM_REQ_GOT(calls));
	int c = 0;
	for (cJSON *call = calls ? calls->child : NULL, *next; call; call = next, c++) {
		next = call->next;
		if ((rc = check_call(calls, call, i, c, fn)))
			return rc;
	}
	if (calls && c == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(message, "tool_calls");
	if (assistant && c == 0 && cJSON_IsNull(content))
		return FAIL(ptr, "an assistant message needs content or tool_calls");

	const cJSON *call_id = cJSON_GetObjectItemCaseSensitive(message, "tool_call_id");
	if (call_id && !tool)
		return FAIL(LLM_REQ_AT("%s/tool_call_id", ptr),
			"only tool messages have tool_call_id (role is %s)", role);
	if (tool && !(cJSON_IsString(call_id) && call_id->valuestring[0]))
		return FAIL(LLM_REQ_AT("%s/tool_call_id", ptr), "a tool message needs "
			"tool_call_id as a non-empty string (got %s)", LLM_REQ_GOT(call_id));
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(message, "name");
	if (name && !(cJSON_IsString(name) && name->valuestring[0]))
		return FAIL(LLM_REQ_AT("%s/name", ptr), "must be a non-empty string (got %s)",
			LLM_REQ_GOT(name));
	return COG_OK;
}

int llm_req_messages(cJSON *request, const char *fn)
{
	cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	char got[80];
	llm_req_got(messages, got);
	if (!cJSON_IsArray(messages) || !messages->child)
		return FAIL("/messages", "must be a non-empty array of messages (got %s)", got);
	int i = 0;
	for (cJSON *m = messages->child; m; m = m->next, i++) {
		int rc = check_message(m, i, fn);
		if (rc)
			return rc;
	}
	return COG_OK;
}
