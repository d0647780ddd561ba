/*
 * Structured output: an answer to a request whose response_format asks for
 * JSON is checked with the library's one JSON Schema validator
 * (lib/schema), and an invalid one is sent back to the model with what was
 * wrong. The schema is compiled once per call, not once per answer.
 */
#include <string.h>

#include "router_int.h"
#include "schema_int.h"

/* The errors shown to the model: enough to fix the answer, small enough
 * not to crowd out the conversation. */
#define MAX_ERRORS_BYTES 2000u
#define MAX_ERROR_STRING 200u

int llm_answer_check_init(llm_answer_check *check, const cJSON *request,
                          const char *fn)
{
	memset(check, 0, sizeof(*check));
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(request, "response_format");
	const char *type = cog_json_get_string(rf, "type");
	if (!type)
		return COG_OK;
	if (strcmp(type, "json_object") == 0) {
		check->active = true;
		check->object_only = true;
		return COG_OK;
	}
	if (strcmp(type, "json_schema") != 0)
		return COG_OK;
	check->active = true;
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(rf, "json_schema"), "schema");
	if (!schema)
		return COG_OK;
	int rc = cog__schema_compile(&check->schema, schema, 0);
	if (rc)
		return cog__error_wrap(rc == COG_ENOMEM ? rc : COG_EINVAL,
			"%s: /response_format/json_schema/schema", fn);
	return COG_OK;
}

void llm_answer_check_dispose(llm_answer_check *check)
{
	cog_schema_free(check->schema);
	memset(check, 0, sizeof(*check));
}

/* The JSON inside an answer: models often wrap it in a ```json fence even
 * when asked not to; the fence is not part of the answer. */
static char *unfence(const char *content)
{
	const char *s = content, *e = content + strlen(content);
	while (s < e && strchr(" \t\r\n", *s))
		s++;
	while (e > s && strchr(" \t\r\n", e[-1]))
		e--;
	if (e - s >= 6 && strncmp(s, "```", 3) == 0 && strncmp(e - 3, "```", 3) == 0) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		if (nl && nl < e - 3) {
			s = nl + 1;
			e -= 3;
		}
	}
	return cog__strndup(s, (size_t)(e - s));
}

/* One error object like the validator's. */
static cJSON *one_error(const char *keyword, const char *message)
{
	cJSON *list = cJSON_CreateArray(), *e = cJSON_CreateObject();
	if (!list || !e || cog_json_add_string(e, "instance", "") ||
	    cog_json_add_string(e, "keyword", keyword) ||
	    cog_json_add_string(e, "message", message)) {
		cJSON_Delete(e);
		cJSON_Delete(list);
		return NULL;
	}
	cJSON_AddItemToArray(list, e);
	return list;
}

/* Cut every string member of the error objects to MAX_ERROR_STRING bytes
 * (at a UTF-8 boundary). */
static void shorten_strings(cJSON *errors)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, errors) {
		cJSON *m;
		cJSON_ArrayForEach(m, e) {
			if (!cJSON_IsString(m) || strlen(m->valuestring) <= MAX_ERROR_STRING)
				continue;
			size_t n = MAX_ERROR_STRING;
			while (n > 0 && ((unsigned char)m->valuestring[n] & 0xC0) == 0x80)
				n--;
			m->valuestring[n] = '\0';
		}
	}
}

/* Compact text of the errors, at most MAX_ERRORS_BYTES: the last errors
 * go first, then long strings are cut. */
static char *errors_text(cJSON *errors)
{
	for (;;) {
		char *text = cog_json_print(errors);
		if (!text || strlen(text) <= MAX_ERRORS_BYTES)
			return text;
		cog_free(text);
		int n = cJSON_GetArraySize(errors);
		if (n > 1) {
			cJSON_DeleteItemFromArray(errors, n - 1);
			continue;
		}
		shorten_strings(errors);
		text = cog_json_print(errors);
		if (text && strlen(text) > MAX_ERRORS_BYTES)
			text[MAX_ERRORS_BYTES] = '\0';  /* unreachable with one short entry */
		return text;
	}
}

static int invalid(cJSON *errors, char **out)
{
	if (!errors)
		return cog__oom("structured output");
	*out = errors_text(errors);
	cJSON_Delete(errors);
	if (!*out)
		return cog__oom("structured output");
	return cog__error(COG_ESCHEMA, "the answer does not match the response format: %s",
		*out);
}

int llm_answer_check_run(const llm_answer_check *check, cJSON *response,
                         char **errors)
{
	*errors = NULL;
	if (!check->active)
		return COG_OK;
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(response, "message");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(message, "tool_calls")) > 0)
		return COG_OK;   /* the model called tools: no answer to check yet */
	const char *content = cog_json_get_string(message, "content");
	char *text = unfence(content ? content : "");
	if (!text)
		return cog__oom("structured output");
	cJSON *value = NULL;
	int rc = cog_json_parse(&value, text, "the answer");
	cog_free(text);
	if (rc == COG_ENOMEM)
		return rc;
	if (rc)
		return invalid(one_error("json", cog_error_last()), errors);
	cJSON *list = NULL;
	if (check->object_only && !cJSON_IsObject(value))
		list = one_error("type", "expected a JSON object");
	else if (check->schema && (rc = cog__schema_check(check->schema, value, &list)) &&
	         rc != COG_ESCHEMA) {
		cJSON_Delete(value);
		return rc;
	}
	if (list || rc == COG_ESCHEMA) {
		cJSON_Delete(value);
		return invalid(list, errors);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(response, "parsed");
	if (!cJSON_AddItemToObject(response, "parsed", value)) {
		cJSON_Delete(value);
		return cog__oom("structured output");
	}
	return COG_OK;
}

int llm_answer_reask(const llm_answer_check *check, cJSON *request,
                     const cJSON *response, const char *errors)
{
	cJSON *messages = cJSON_GetObjectItemCaseSensitive(request, "messages");
	const char *content = cog_json_get_string(
		cJSON_GetObjectItemCaseSensitive(response, "message"), "content");
	cog_buf b = COG_BUF_INIT;
	if (check->object_only)
		cog_buf_printf(&b, "Your previous answer was not a JSON object: %s. "
			"Answer again with only the JSON object.", errors);
	else
		cog_buf_printf(&b, "Your previous answer did not match the required JSON "
			"schema: %s. Answer again with only the corrected JSON.", errors);
	cJSON *assistant = cJSON_CreateObject(), *user = cJSON_CreateObject();
	bool ok = !b.failed && assistant && user && cJSON_IsArray(messages) &&
		!cog_json_add_string(assistant, "role", "assistant") &&
		!cog_json_add_string(assistant, "content", content ? content : "") &&
		!cog_json_add_string(user, "role", "user") &&
		!cog_json_add_string(user, "content", b.ptr);
	cog_buf_dispose(&b);
	if (!ok) {
		cJSON_Delete(assistant);
		cJSON_Delete(user);
		return cog__oom("structured output");
	}
	/* Adding to an array links the item in: it cannot fail. */
	cJSON_AddItemToArray(messages, assistant);
	cJSON_AddItemToArray(messages, user);
	return COG_OK;
}
