/*
 * The response shape (include/cognition/llm.h): every backend's answer is
 * checked here before the router or a caller reads it, and completed with
 * what may be left out (role, null content, usage zeros, a finish reason
 * that follows from the answer). A backend that answers something else is
 * COG_EPROTO naming the member, so the router never misreads an answer.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request_int.h"

static int fail(const char *who, const char *pointer, const char *fmt, ...)
	COG_PRINTF(3, 4);

static int fail(const char *who, const char *pointer, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return cog__error(COG_EPROTO, "%s: answer: %s%s%s", who, pointer,
		*pointer ? ": " : "", message);
}

static bool is_count(const cJSON *v)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 &&
	       v->valuedouble <= 9007199254740992.0 &&
	       v->valuedouble == floor(v->valuedouble);
}

/* usage: an object of non-negative integer counts; `names` are filled
 * with 0 when absent (the whole object too). */
static int check_usage(cJSON *response, const char *const *names, const char *who)
{
	cJSON *usage = cJSON_GetObjectItemCaseSensitive(response, "usage");
	if (!usage || cJSON_IsNull(usage)) {
		if (usage)
			cJSON_DeleteItemFromObjectCaseSensitive(response, "usage");
		if (!(usage = cJSON_AddObjectToObject(response, "usage")))
			return cog__oom(who);
	}
	if (!cJSON_IsObject(usage))
		return fail(who, "/usage", "must be an object (got %s)", LLM_REQ_GOT(usage));
	for (const cJSON *m = usage->child; m; m = m->next) {
		if (!is_count(m))
			return fail(who, LLM_REQ_AT("/usage/%.48s", m->string ? m->string : ""),
				"must be an integer >= 0 (got %s)", LLM_REQ_GOT(m));
	}
	for (size_t i = 0; names[i]; i++)
		if (!cJSON_GetObjectItemCaseSensitive(usage, names[i]) &&
		    !cJSON_AddNumberToObject(usage, names[i], 0))
			return cog__oom(who);
	return COG_OK;
}

/* One tool call: {"id","name","arguments":{...}} or "arguments":null with
 * "arguments_text"; argument text that parses to an object is accepted
 * and becomes the object. */
static int check_call(cJSON *call, int i, const char *who)
{
	char ptr[64];
	snprintf(ptr, sizeof(ptr), "/message/tool_calls/%d", i);
	if (!cJSON_IsObject(call))
		return fail(who, ptr, "must be an object (got %s)", LLM_REQ_GOT(call));
	const char *names[] = { "id", "name" };
	for (size_t k = 0; k < COG_ARRAY_LEN(names); k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(call, names[k]);
		if (!cJSON_IsString(v) || !v->valuestring[0])
			return fail(who, ptr, "%s must be a non-empty string (got %s)",
				names[k], LLM_REQ_GOT(v));
	}
	cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(call, "arguments_text");
	/* The text goes only with null, so that the call can go back in a
	 * request as it is. */
	if (text && cJSON_IsString(args))
		return fail(who, ptr, "both arguments text and arguments_text");
	if (text && !cJSON_IsNull(args))
		return fail(who, ptr, "arguments_text only goes with arguments null");
	if (!args) {
		if (!cJSON_AddObjectToObject(call, "arguments"))
			return cog__oom(who);
		return COG_OK;
	}
	if (cJSON_IsString(args)) {
		/* A host backend may hand over the model's text as it came. */
		cJSON *parsed = NULL;
		const char *s = args->valuestring;
		if (s[strspn(s, " \t\r\n")] == '\0') {
			if (!(parsed = cJSON_CreateObject()))
				return cog__oom(who);
		} else if (cog_json_parse(&parsed, s, "arguments") == COG_ENOMEM) {
			return COG_ENOMEM;
		} else if (parsed && !cJSON_IsObject(parsed)) {
			cJSON_Delete(parsed);
			parsed = NULL;
		}
		cJSON *replacement = parsed;
		if (!parsed) {
			if (!cJSON_AddStringToObject(call, "arguments_text", s) ||
			    !(replacement = cJSON_CreateNull()))
				return cog__oom(who);
		}
		if (!cJSON_ReplaceItemInObjectCaseSensitive(call, "arguments", replacement)) {
			cJSON_Delete(replacement);
			return cog__oom(who);
		}
		return COG_OK;
	}
	if (cJSON_IsNull(args)) {
		if (!cJSON_IsString(text))
			return fail(who, ptr, "arguments null needs arguments_text, the "
				"model's text");
		return COG_OK;
	}
	if (!cJSON_IsObject(args))
		return fail(who, ptr, "arguments must be an object or null (got %s)",
			LLM_REQ_GOT(args));
	return COG_OK;
}

static int check_message(cJSON *response, int *n_calls, const char *who)
{
	cJSON *message = cJSON_GetObjectItemCaseSensitive(response, "message");
	if (!cJSON_IsObject(message))
		return fail(who, "/message", "must be an object (got %s)",
			LLM_REQ_GOT(message));
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(message, "role");
	if (!role) {
		if (cog_json_add_string(message, "role", "assistant"))
			return COG_ENOMEM;
	} else if (!cJSON_IsString(role) || strcmp(role->valuestring, "assistant")) {
		return fail(who, "/message/role", "must be \"assistant\" (got %s)",
			LLM_REQ_GOT(role));
	}
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
	if (!content) {
		if (!cJSON_AddNullToObject(message, "content"))
			return cog__oom(who);
	} else if (!cJSON_IsString(content) && !cJSON_IsNull(content)) {
		return fail(who, "/message/content", "must be a string or null (got %s)",
			LLM_REQ_GOT(content));
	}
	cJSON *calls = cJSON_GetObjectItemCaseSensitive(message, "tool_calls");
	*n_calls = 0;
	if (!calls)
		return COG_OK;
	if (!cJSON_IsArray(calls) && !cJSON_IsNull(calls))
		return fail(who, "/message/tool_calls", "must be an array (got %s)",
			LLM_REQ_GOT(calls));
	cJSON *call;
	cJSON_ArrayForEach(call, calls) {
		int rc = check_call(call, *n_calls, who);
		if (rc)
			return rc;
		++*n_calls;
	}
	if (*n_calls == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(message, "tool_calls");
	return COG_OK;
}

/* Optional members: 's' a string, 'b' a boolean, 'c' an integer count,
 * 'n' a number >= 0. */
static int check_optional(const cJSON *response, const char *who)
{
	static const struct { const char *name; char kind; } members[] = {
		{ "model", 's' }, { "provider", 's' }, { "endpoint", 's' },
		{ "latency_ms", 'n' }, { "cost", 'n' }, { "attempts", 'c' },
		{ "cached", 'b' },
	};
	for (size_t i = 0; i < COG_ARRAY_LEN(members); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(response, members[i].name);
		bool ok;
		switch (members[i].kind) {
		case 's': ok = cJSON_IsString(v); break;
		case 'b': ok = cJSON_IsBool(v); break;
		case 'c': ok = is_count(v); break;
		default:
			ok = cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0;
		}
		if (!v || ok)
			continue;
		return fail(who, LLM_REQ_AT("/%s", members[i].name), "must be %s (got %s)",
			members[i].kind == 's' ? "a string" : members[i].kind == 'b' ?
			"true or false" : members[i].kind == 'c' ? "an integer >= 0" :
			"a number >= 0", LLM_REQ_GOT(v));
	}
	return COG_OK;
}

int llm_response_check(cJSON *response, const char *who)
{
	static const char *const usage_names[] = {
		"input_tokens", "output_tokens", "cached_tokens", NULL
	};
	cog__json_init();
	if (!cJSON_IsObject(response))
		return fail(who, "", "must be a JSON object (got %s)", LLM_REQ_GOT(response));
	int n_calls = 0;
	int rc = check_message(response, &n_calls, who);
	if (rc)
		return rc;
	const cJSON *finish = cJSON_GetObjectItemCaseSensitive(response, "finish_reason");
	if (!finish || cJSON_IsNull(finish)) {
		cJSON_DeleteItemFromObjectCaseSensitive(response, "finish_reason");
		if (cog_json_add_string(response, "finish_reason",
		                        n_calls ? "tool_calls" : "stop"))
			return COG_ENOMEM;
	} else if (!cJSON_IsString(finish) || (strcmp(finish->valuestring, "stop") &&
	           strcmp(finish->valuestring, "length") &&
	           strcmp(finish->valuestring, "tool_calls") &&
	           strcmp(finish->valuestring, "content_filter"))) {
		return fail(who, "/finish_reason",
			"must be one of stop, length, tool_calls, content_filter (got %s)",
			LLM_REQ_GOT(finish));
	}
	rc = check_usage(response, usage_names, who);
	return rc ? rc : check_optional(response, who);
}

int llm_embed_response_check(cJSON *response, size_t n_inputs, const char *who)
{
	static const char *const usage_names[] = { "input_tokens", NULL };
	char ptr[48];
	cog__json_init();
	if (!cJSON_IsObject(response))
		return fail(who, "", "must be a JSON object (got %s)", LLM_REQ_GOT(response));
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(response, "data");
	if (!cJSON_IsArray(data))
		return fail(who, "/data", "must be an array of vectors (got %s)", LLM_REQ_GOT(data));
	size_t n = (size_t)cJSON_GetArraySize(data);
	if (n != n_inputs)
		return fail(who, "/data", "has %zu vectors for %zu inputs", n, n_inputs);
	size_t dims = 0, i = 0;
	const cJSON *vector, *x;
	cJSON_ArrayForEach(vector, data) {
		snprintf(ptr, sizeof(ptr), "/data/%zu", i);
		if (!cJSON_IsArray(vector))
			return fail(who, ptr, "must be an array of numbers (got %s)", LLM_REQ_GOT(vector));
		size_t len = 0;
		cJSON_ArrayForEach(x, vector) {
			if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
				return fail(who, ptr, "element %zu must be a finite number (got %s)",
					len, LLM_REQ_GOT(x));
			}
			len++;
		}
		if (len == 0)
			return fail(who, ptr, "is empty");
		if (i > 0 && len != dims)
			return fail(who, ptr, "has %zu dimensions, /data/0 has %zu", len, dims);
		dims = len;
		i++;
	}
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(response, "dimensions");
	if (!d) {
		if (!cJSON_AddNumberToObject(response, "dimensions", (double)dims))
			return cog__oom(who);
	} else if (!is_count(d) || (n && (size_t)d->valuedouble != dims)) {
		return fail(who, "/dimensions", "must be the vectors' length %zu (got %s)",
			dims, LLM_REQ_GOT(d));
	}
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(response, "model");
	if (model && !cJSON_IsString(model))
		return fail(who, "/model", "must be a string (got %s)", LLM_REQ_GOT(model));
	return check_usage(response, usage_names, who);
}
