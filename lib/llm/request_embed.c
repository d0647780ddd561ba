/*
 * The embedding request shape: {"model"?, "input": "text" | ["text", ...],
 * "dimensions"?, "user"?, "metadata"?}; the input becomes an array of 1 to
 * 2048 non-empty strings (the OpenAI limit per call).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "request_int.h"

#define FAIL(ptr, ...) llm_req_fail(fn, "embed request", ptr, __VA_ARGS__)

static int check_embed(cJSON *request, const char *fn)
{
	static const char *const members[] = {
		"model", "input", "dimensions", "user", "metadata", NULL
	};
	char got[80];
	llm_req_got(request, got);
	if (!cJSON_IsObject(request))
		return FAIL("", "must be a JSON object (got %s)", got);
	llm_req_drop_nulls(request, NULL);
	int rc = llm_req_members(request, members, fn, "embed request", "");
	if (rc)
		return rc;
	const char *strings[] = { "model", "user" };
	for (size_t i = 0; i < COG_ARRAY_LEN(strings); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(request, strings[i]);
		char ptr[16];
		snprintf(ptr, sizeof(ptr), "/%s", strings[i]);
		llm_req_got(v, got);
		if (v && !(cJSON_IsString(v) && v->valuestring[0]))
			return FAIL(ptr, "must be a non-empty string (got %s)", got);
	}
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(request, "dimensions");
	llm_req_got(dims, got);
	if (dims && !(cJSON_IsNumber(dims) && dims->valuedouble >= 1 &&
	              dims->valuedouble <= 65536 &&
	              dims->valuedouble == floor(dims->valuedouble)))
		return FAIL("/dimensions", "must be an integer from 1 to 65536 (got %s)", got);
	const cJSON *metadata = cJSON_GetObjectItemCaseSensitive(request, "metadata");
	llm_req_got(metadata, got);
	if (metadata && !cJSON_IsObject(metadata))
		return FAIL("/metadata", "must be an object (got %s)", got);

	cJSON *input = cJSON_GetObjectItemCaseSensitive(request, "input");
	llm_req_got(input, got);
	if (cJSON_IsString(input)) {
		cJSON *array = cJSON_CreateArray();
		cJSON *copy = cJSON_CreateString(input->valuestring);
		if (!array || !copy || !cJSON_AddItemToArray(array, copy)) {
			cJSON_Delete(array);
			cJSON_Delete(copy);
			return cog__oom(fn);
		}
		if (!cJSON_ReplaceItemInObjectCaseSensitive(request, "input", array)) {
			cJSON_Delete(array);
			return cog__oom(fn);
		}
		input = array;
	}
	if (!cJSON_IsArray(input))
		return FAIL("/input", "must be a string or an array of strings (got %s)", got);
	int n = cJSON_GetArraySize(input);
	if (n < 1 || n > 2048)
		return FAIL("/input", "must hold 1 to 2048 strings (got %d)", n);
	int i = 0;
	for (const cJSON *s = input->child; s; s = s->next, i++) {
		if (cJSON_IsString(s) && s->valuestring[0])
			continue;
		char ptr[32];
		snprintf(ptr, sizeof(ptr), "/input/%d", i);
		llm_req_got(s, got);
		return FAIL(ptr, "must be a non-empty string (got %s)", got);
	}
	return COG_OK;
}

int llm_embed_request_parse(cJSON **out, const char *json, const char *fn)
{
	*out = NULL;
	cJSON *request = NULL;
	int rc = cog_json_parse(&request, json, "embed request");
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	rc = check_embed(request, fn);
	if (rc) {
		cJSON_Delete(request);
		return rc;
	}
	*out = request;
	return COG_OK;
}
