/*
 * The request shape (include/cognition/llm.h): parse, check, normalise.
 * Every backend sees requests that passed here, in one form: OpenAI-shaped
 * input (tools, tool calls with argument text, tool_choice objects, a stop
 * string, content parts) is rewritten into the library's shape, optional
 * members sent as null are dropped, and anything else unexpected is
 * COG_EINVAL naming the member by JSON pointer (a typo such as
 * "temprature" must not pass silently). The messages are in request_msg.c,
 * the tool definitions in request_tools.c, the helpers in request_util.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "request_int.h"

/* ---- top-level members ---- */

static const char *const top_members[] = {
	"model", "messages", "tools", "tool_choice", "response_format",
	"temperature", "top_p", "max_tokens", "stop", "metadata", "seed", "user",
	NULL
};

/* A number member within [min, max] (integral when integer); absent is
 * fine. */
static int check_number(const cJSON *request, const char *name, double min,
                        double max, bool integer, const char *fn)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(request, name);
	if (!v)
		return COG_OK;
	const char *what = NULL;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		what = "must be a number";
	else if (integer && v->valuedouble != floor(v->valuedouble))
		what = "must be an integer";
	else if (v->valuedouble < min || v->valuedouble > max)
		return llm_req_fail(fn, "request", LLM_REQ_AT("/%s", name),
			"must be between %.17g and %.17g (got %s)", min, max, LLM_REQ_GOT(v));
	if (what)
		return llm_req_fail(fn, "request", LLM_REQ_AT("/%s", name), "%s (got %s)",
			what, LLM_REQ_GOT(v));
	return COG_OK;
}

static int check_string(const cJSON *request, const char *name, const char *fn)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(request, name);
	if (!v || (cJSON_IsString(v) && v->valuestring[0]))
		return COG_OK;
	char pointer[32], got[80];
	snprintf(pointer, sizeof(pointer), "/%s", name);
	llm_req_got(v, got);
	return llm_req_fail(fn, "request", pointer, "must be a non-empty string (got %s)", got);
}

static int check_stop(cJSON *request, const char *fn)
{
	cJSON *stop = cJSON_GetObjectItemCaseSensitive(request, "stop");
	if (!stop)
		return COG_OK;
	char got[80];
	if (cJSON_IsString(stop)) {
		cJSON *array = cJSON_CreateArray();
		cJSON *copy = cJSON_CreateString(stop->valuestring);
		if (!array || !copy || !cJSON_AddItemToArray(array, copy)) {
			cJSON_Delete(array);
			cJSON_Delete(copy);
			return cog__oom(fn);
		}
		if (!cJSON_ReplaceItemInObjectCaseSensitive(request, "stop", array)) {
			cJSON_Delete(array);
			return cog__oom(fn);
		}
		stop = array;
	}
	if (!cJSON_IsArray(stop)) {
		llm_req_got(stop, got);
		return llm_req_fail(fn, "request", "/stop",
			"must be a string or an array of strings (got %s)", got);
	}
	int n = cJSON_GetArraySize(stop);
	if (n > 16)
		return llm_req_fail(fn, "request", "/stop",
			"at most 16 stop sequences (got %d)", n);
	int i = 0;
	for (const cJSON *s = stop->child; s; s = s->next, i++) {
		if (cJSON_IsString(s) && s->valuestring[0])
			continue;
		char pointer[32];
		snprintf(pointer, sizeof(pointer), "/stop/%d", i);
		llm_req_got(s, got);
		return llm_req_fail(fn, "request", pointer,
			"must be a non-empty string (got %s)", got);
	}
	if (n == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(request, "stop");
	return COG_OK;
}

static bool tool_exists(const cJSON *request, const char *name)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(request, "tools");
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		const char *n = cog_json_get_string(t, "name");
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

/* "auto" | "none" | "required" | {"name"}; also OpenAI's
 * {"type":"function","function":{"name"}} and Anthropic's {"type":"tool",
 * "name"}, {"type":"auto"|"any"|"none"}, and "any" for "required". */
static int check_tool_choice(cJSON *request, const char *fn)
{
	cJSON *choice = cJSON_GetObjectItemCaseSensitive(request, "tool_choice");
	if (!choice)
		return COG_OK;
	char got[80];
	llm_req_got(choice, got);
	const char *mode = NULL, *name = NULL;
	if (cJSON_IsString(choice)) {
		mode = choice->valuestring;
	} else if (cJSON_IsObject(choice)) {
		const char *type = cog_json_get_string(choice, "type");
		const cJSON *function = cJSON_GetObjectItemCaseSensitive(choice, "function");
		if (type && strcmp(type, "function") == 0 && cJSON_IsObject(function)) {
			name = cog_json_get_string(function, "name");
		} else if (type && strcmp(type, "tool") == 0) {
			name = cog_json_get_string(choice, "name");
		} else if (type && !cJSON_GetObjectItemCaseSensitive(choice, "name")) {
			mode = type;
		} else if (!type && cJSON_GetArraySize(choice) == 1) {
			name = cog_json_get_string(choice, "name");
		}
		if (!mode && !name)
			return llm_req_fail(fn, "request", "/tool_choice",
				"must be \"auto\", \"none\", \"required\" or {\"name\":\"tool\"} "
				"(got an object that is none of these)");
	} else {
		return llm_req_fail(fn, "request", "/tool_choice",
			"must be \"auto\", \"none\", \"required\" or {\"name\":\"tool\"} (got %s)", got);
	}
	cJSON *normal = NULL;
	if (mode) {
		if (strcmp(mode, "any") == 0)
			mode = "required";
		if (strcmp(mode, "auto") && strcmp(mode, "none") && strcmp(mode, "required"))
			return llm_req_fail(fn, "request", "/tool_choice",
				"must be one of auto, none, required (got %s)", got);
		if (strcmp(mode, "required") == 0 &&
		    !cJSON_GetObjectItemCaseSensitive(request, "tools"))
			return llm_req_fail(fn, "request", "/tool_choice",
				"\"required\" needs tools");
		normal = cJSON_CreateString(mode);
	} else {
		if (!tool_exists(request, name)) {
			cJSON n = { .type = cJSON_String, .valuestring = (char *)name };
			llm_req_got(&n, got);
			return llm_req_fail(fn, "request", "/tool_choice",
				"names tool %s, which is not among the request's tools", got);
		}
		normal = cJSON_CreateObject();
		if (normal && cog_json_add_string(normal, "name", name)) {
			cJSON_Delete(normal);
			normal = NULL;
		}
	}
	if (!normal || !cJSON_ReplaceItemInObjectCaseSensitive(request, "tool_choice", normal)) {
		cJSON_Delete(normal);
		return cog__oom(fn);
	}
	return COG_OK;
}

static int check_response_format(cJSON *request, const char *fn)
{
	static const char *const format_members[] = { "type", "json_schema", NULL };
	static const char *const schema_members[] = {
		"name", "schema", "strict", "description", NULL
	};
	cJSON *format = cJSON_GetObjectItemCaseSensitive(request, "response_format");
	if (!format)
		return COG_OK;
	char got[80];
	llm_req_got(format, got);
	if (!cJSON_IsObject(format))
		return llm_req_fail(fn, "request", "/response_format",
			"must be an object (got %s)", got);
	int rc = llm_req_members(format, format_members, fn, "request", "/response_format");
	if (rc)
		return rc;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(format, "type");
	cJSON *js = cJSON_GetObjectItemCaseSensitive(format, "json_schema");
	llm_req_got(type, got);
	if (!cJSON_IsString(type) || (strcmp(type->valuestring, "text") &&
	    strcmp(type->valuestring, "json_object") &&
	    strcmp(type->valuestring, "json_schema")))
		return llm_req_fail(fn, "request", "/response_format/type",
			"must be one of text, json_object, json_schema (got %s)", got);
	if (strcmp(type->valuestring, "json_schema")) {
		if (js)
			return llm_req_fail(fn, "request", "/response_format/json_schema",
				"only with \"type\":\"json_schema\"");
		return COG_OK;
	}
	llm_req_got(js, got);
	if (!cJSON_IsObject(js))
		return llm_req_fail(fn, "request", "/response_format/json_schema",
			"must be an object (got %s)", got);
	rc = llm_req_members(js, schema_members, fn, "request",
		"/response_format/json_schema");
	if (rc)
		return rc;
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
	llm_req_got(schema, got);
	if (!cJSON_IsObject(schema))
		return llm_req_fail(fn, "request", "/response_format/json_schema/schema",
			"must be a JSON Schema object (got %s)", got);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
	llm_req_got(name, got);
	if (!name) {
		if (cog_json_add_string(js, "name", "answer"))
			return cog__oom(fn);
	} else if (!cJSON_IsString(name) || !llm_req_name_ok(name->valuestring)) {
		return llm_req_fail(fn, "request", "/response_format/json_schema/name",
			LLM_REQ_NAME_RULE " (got %s)", got);
	}
	const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
	llm_req_got(strict, got);
	if (strict && !cJSON_IsBool(strict))
		return llm_req_fail(fn, "request", "/response_format/json_schema/strict",
			"must be true or false (got %s)", got);
	const cJSON *description = cJSON_GetObjectItemCaseSensitive(js, "description");
	llm_req_got(description, got);
	if (description && !cJSON_IsString(description))
		return llm_req_fail(fn, "request", "/response_format/json_schema/description",
			"must be a string (got %s)", got);
	return COG_OK;
}

int llm_request_check(cJSON *request, const char *fn)
{
	char got[80];
	cog__json_init();
	if (!cJSON_IsObject(request)) {
		llm_req_got(request, got);
		return llm_req_fail(fn, "request", "", "must be a JSON object (got %s)", got);
	}
	static const char *const keep_nulls[] = { "messages", NULL };
	llm_req_drop_nulls(request, keep_nulls);
	int rc = llm_req_members(request, top_members, fn, "request", "");
	if (!rc)
		rc = check_string(request, "model", fn);
	if (!rc)
		rc = llm_req_messages(request, fn);
	if (!rc)
		rc = llm_req_tools(request, fn);
	if (!rc)
		rc = check_tool_choice(request, fn);
	if (!rc)
		rc = check_response_format(request, fn);
	if (!rc)
		rc = check_number(request, "temperature", 0, 2, false, fn);
	if (!rc)
		rc = check_number(request, "top_p", 0, 1, false, fn);
	if (!rc)
		rc = check_number(request, "max_tokens", 1, 1e7, true, fn);
	if (!rc)
		rc = check_number(request, "seed", -9007199254740991.0,
			9007199254740991.0, true, fn);
	if (!rc)
		rc = check_stop(request, fn);
	if (!rc)
		rc = check_string(request, "user", fn);
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(request, "metadata");
	if (!rc && metadata && !cJSON_IsObject(metadata)) {
		llm_req_got(metadata, got);
		rc = llm_req_fail(fn, "request", "/metadata", "must be an object (got %s)", got);
	}
	return rc;
}

int llm_request_parse(cJSON **out, const char *json, const char *fn)
{
	*out = NULL;
	cJSON *request = NULL;
	int rc = cog_json_parse(&request, json, "request");
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	rc = llm_request_check(request, fn);
	if (rc) {
		cJSON_Delete(request);
		return rc;
	}
	*out = request;
	return COG_OK;
}

unsigned int llm_request_max_tokens(const cJSON *request, unsigned int fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(request, "max_tokens");
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1) || v->valuedouble > 1e7)
		return fallback;
	return (unsigned int)v->valuedouble;
}
