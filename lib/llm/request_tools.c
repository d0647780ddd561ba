/*
 * The tool definitions of a request (see request.c): each one, in either
 * shape, becomes {"name","description"?,"input_schema"} (OpenAI's
 * {"type":"function","function":{...,"parameters"}} is rewritten; a missing
 * schema becomes an empty object schema); names must be usable by every
 * provider and unique; an empty list means no tools. Messages are checked
 * in request_msg.c.
 */
#include <stdio.h>
#include <string.h>

#include "request_int.h"

#define FAIL(ptr, ...) llm_req_fail(fn, "request", ptr, __VA_ARGS__)

/* One tool definition, either shape → {"name","description"?,
 * "input_schema"}. */
static int check_tool(cJSON *tools, cJSON *tool, int i, const char *fn)
{
	static const char *const ours[] = { "name", "description", "input_schema", NULL };
	static const char *const openai[] = { "type", "function", NULL };
	static const char *const openai_function[] = {
		"name", "description", "parameters", "strict", NULL
	};
	char ptr[32], where[96], got[80];
	snprintf(ptr, sizeof(ptr), "/tools/%d", i);
	llm_req_got(tool, got);
	if (!cJSON_IsObject(tool))
		return FAIL(ptr, "must be an object (got %s)", got);
	const cJSON *holder = tool;
	const char *schema_name = "input_schema";
	char base[48];
	snprintf(base, sizeof(base), "%s", ptr);
	int rc;
	if (cJSON_GetObjectItemCaseSensitive(tool, "function") ||
	    cJSON_GetObjectItemCaseSensitive(tool, "type")) {
		if ((rc = llm_req_members(tool, openai, fn, "request", ptr)))
			return rc;
		const char *type = cog_json_get_string(tool, "type");
		if (!type || strcmp(type, "function")) {
			llm_req_got(cJSON_GetObjectItemCaseSensitive(tool, "type"), got);
			snprintf(where, sizeof(where), "%s/type", ptr);
			return FAIL(where, "must be \"function\" (got %s)", got);
		}
		holder = cJSON_GetObjectItemCaseSensitive(tool, "function");
		snprintf(base, sizeof(base), "%s/function", ptr);
		llm_req_got(holder, got);
		if (!cJSON_IsObject(holder))
			return FAIL(base, "must be an object (got %s)", got);
		if ((rc = llm_req_members(holder, openai_function, fn, "request", base)))
			return rc;
		schema_name = "parameters";
	} else if ((rc = llm_req_members(tool, ours, fn, "request", ptr))) {
		return rc;
	}
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(holder, "name");
	const cJSON *description = cJSON_GetObjectItemCaseSensitive(holder, "description");
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(holder, schema_name);
	snprintf(where, sizeof(where), "%s/name", base);
	llm_req_got(name, got);
	if (!cJSON_IsString(name) || !llm_req_name_ok(name->valuestring))
		return FAIL(where, LLM_REQ_NAME_RULE " (got %s)", got);
	for (const cJSON *t = tools->child; t && t != tool; t = t->next) {
		const char *other = cog_json_get_string(t, "name");
		if (other && strcmp(other, name->valuestring) == 0)
			return FAIL(where, "tool %s is defined twice", got);
	}
	snprintf(where, sizeof(where), "%s/description", base);
	llm_req_got(description, got);
	if (description && !cJSON_IsNull(description) && !cJSON_IsString(description))
		return FAIL(where, "must be a string (got %s)", got);
	snprintf(where, sizeof(where), "%s/%s", base, schema_name);
	llm_req_got(schema, got);
	if (schema && !cJSON_IsNull(schema) && !cJSON_IsObject(schema))
		return FAIL(where, "must be a JSON Schema object (got %s)", got);

	cJSON *normal = cJSON_CreateObject();
	cJSON *schema_copy = cJSON_IsObject(schema) ? cJSON_Duplicate(schema, true)
		: cJSON_Parse("{\"type\":\"object\",\"properties\":{}}");
	if (!normal || !schema_copy ||
	    cog_json_add_string(normal, "name", name->valuestring) ||
	    (cJSON_IsString(description) &&
	     cog_json_add_string(normal, "description", description->valuestring)) ||
	    !cJSON_AddItemToObject(normal, "input_schema", schema_copy)) {
		cJSON_Delete(schema_copy);
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	if (!cJSON_ReplaceItemViaPointer(tools, tool, normal)) {
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	return COG_OK;
}

int llm_req_tools(cJSON *request, const char *fn)
{
	cJSON *tools = cJSON_GetObjectItemCaseSensitive(request, "tools");
	if (!tools)
		return COG_OK;
	char got[80];
	llm_req_got(tools, got);
	if (!cJSON_IsArray(tools))
		return FAIL("/tools", "must be an array of tools (got %s)", got);
	if (!tools->child) {
		/* Providers refuse an empty list; no tools means none. */
		cJSON_DeleteItemFromObjectCaseSensitive(request, "tools");
		return COG_OK;
	}
	int i = 0;
	for (cJSON *t = tools->child, *next; t; t = next, i++) {
		next = t->next;
		int rc = check_tool(tools, t, i, fn);
		if (rc)
			return rc;
	}
	return COG_OK;
}
