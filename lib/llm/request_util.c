/*
 * Helpers of the request checks (request.c, request_msg.c,
 * request_tools.c, request_embed.c, response.c): error messages naming a
 * member by JSON pointer and quoting what was there, member lists, and the
 * size estimate of a request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request_int.h"

int llm_req_fail(const char *fn, const char *what, const char *pointer,
                 const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (!pointer || !*pointer)
		return cog__error(COG_EINVAL, "%s: %s: %s", fn, what, message);
	return cog__error(COG_EINVAL, "%s: %s: %s: %s", fn, what, pointer, message);
}

void llm_req_got(const cJSON *value, char out[80])
{
	if (!value) {
		snprintf(out, 80, "nothing");
	} else if (cJSON_IsString(value)) {
		/* Quote at most 40 bytes, control characters and quotes shown
		 * as '?', and never cut a UTF-8 sequence in half. */
		const char *s = value->valuestring;
		size_t n = 0, len = strlen(s);
		char *p = out;
		*p++ = '"';
		while (n < len && n < 40) {
			unsigned char c = (unsigned char)s[n];
			size_t step = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (n + step > 40 || n + step > len)
				break;
			if (c < 0x20 || c == '"' || c == '\\')
				*p++ = '?';
			else
				memcpy(p, s + n, step), p += step;
			n += step;
		}
		if (n < len)
			memcpy(p, "...", 3), p += 3;
		*p++ = '"';
		*p = '\0';
	} else if (cJSON_IsNumber(value)) {
		/* The shortest of 15 or 17 digits that reads back the same:
		 * 0.1, not 0.10000000000000001. */
		snprintf(out, 80, "%.15g", value->valuedouble);
		if (strtod(out, NULL) != value->valuedouble)
			snprintf(out, 80, "%.17g", value->valuedouble);
	} else if (cJSON_IsBool(value)) {
		snprintf(out, 80, "%s", cJSON_IsTrue(value) ? "true" : "false");
	} else if (cJSON_IsNull(value)) {
		snprintf(out, 80, "null");
	} else if (cJSON_IsArray(value)) {
		snprintf(out, 80, "an array");
	} else {
		snprintf(out, 80, "an object");
	}
}

const char *llm_req_gots(const cJSON *value, char out[80])
{
	llm_req_got(value, out);
	return out;
}

const char *llm_req_at(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return out;
}

int llm_req_members(const cJSON *object, const char *const *allowed,
                    const char *fn, const char *what, const char *pointer)
{
	for (const cJSON *m = object->child; m; m = m->next) {
		const char *name = m->string ? m->string : "";
		bool known = false;
		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(allowed[i], name) == 0;
		if (!known) {
			char where[256];
			snprintf(where, sizeof(where), "%s/%.64s", pointer, name);
			char list[400] = "";
			size_t used = 0;
			for (size_t i = 0; allowed[i] && used < sizeof(list); i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used,
					"%s%s", i ? ", " : "", allowed[i]);
			return llm_req_fail(fn, what, where, "unknown member (known: %s)", list);
		}
		for (const cJSON *o = m->next; o; o = o->next)
			if (o->string && strcmp(o->string, name) == 0)
				return llm_req_fail(fn, what, LLM_REQ_AT("%s/%.64s", pointer, name),
					"appears more than once");
	}
	return COG_OK;
}

void llm_req_drop_nulls(cJSON *object, const char *const *keep)
{
	cJSON *m = object->child;
	while (m) {
		cJSON *next = m->next;
		bool kept = false;
		for (size_t i = 0; keep && keep[i] && !kept; i++)
			kept = m->string && strcmp(keep[i], m->string) == 0;
		if (cJSON_IsNull(m) && !kept)
			cJSON_Delete(cJSON_DetachItemViaPointer(object, m));
		m = next;
	}
}

bool llm_req_name_ok(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= 64)
			return false;
	}
	return n > 0;
}

/* ---- estimates ---- */

static size_t printed_size(const cJSON *item)
{
	char *text = item ? llm_canonical_json(item, false) : NULL;
	size_t n = text ? strlen(text) : 0;
	cog_free(text);
	return n;
}

size_t llm_request_text_bytes(const cJSON *request)
{
	size_t total = 0;
	const cJSON *m, *c, *t;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(request, "messages")) {
		const char *content = cog_json_get_string(m, "content");
		total += content ? strlen(content) : 0;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
			const char *name = cog_json_get_string(c, "name");
			const char *text = cog_json_get_string(c, "arguments_text");
			total += (name ? strlen(name) : 0) + (text ? strlen(text) :
				printed_size(cJSON_GetObjectItemCaseSensitive(c, "arguments")));
		}
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(request, "tools")) {
		const char *name = cog_json_get_string(t, "name");
		const char *description = cog_json_get_string(t, "description");
		total += (name ? strlen(name) : 0) + (description ? strlen(description) : 0) +
			printed_size(cJSON_GetObjectItemCaseSensitive(t, "input_schema"));
	}
	return total;
}
