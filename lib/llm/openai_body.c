/*
 * The OpenAI chat body of a plain request (messages with roles, content,
 * names, tool call ids, and the passed sampling members) written straight
 * from the checked request into the body buffer: byte for byte what
 * openai.c's tree builder and cog_json_print give, without the tree.
 * Requests with tools, a tool choice, a response format or assistant tool
 * calls, and anything the builder would fail on, are left to the builder.
 * unit/llm-openai-body compares the two on random requests.
 */
#include <string.h>

#include "openai_int.h"

/* ,"name":<the member's value>, if src has the member. */
static int put_member(cog_buf *b, const cJSON *src, const char *name, bool comma)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, name);
	if (!v)
		return COG_OK;
	if (comma)
		cog_buf_putc(b, ',');
	cog__json_put_string(b, name);
	cog_buf_putc(b, ':');
	return cog__json_print_into(b, v);
}

/* One message as openai.c's add_message writes it; 1: not a plain one. */
static int put_message(cog_buf *b, const cJSON *m)
{
	const char *role = cog_json_get_string(m, "role");
	if (!role)
		return 1;
	bool assistant = strcmp(role, "assistant") == 0;
	if (assistant && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "tool_calls")))
		return 1;
	cog_buf_puts(b, "{\"role\":");
	cog__json_put_string(b, role);
	const char *content = cog_json_get_string(m, "content");
	if (content) {
		cog_buf_puts(b, ",\"content\":");
		cog__json_put_string(b, content);
	} else {
		cog_buf_puts(b, assistant ? ",\"content\":null" : ",\"content\":\"\"");
	}
	int rc = strcmp(role, "tool") == 0 ? put_member(b, m, "tool_call_id", true)
	                                   : put_member(b, m, "name", true);
	cog_buf_putc(b, '}');
	return rc;
}

static int put_body(cog_buf *b, const cJSON *request, bool stream)
{
	static const char *const passed[] = {
		"temperature", "top_p", "max_tokens", "stop", "seed", "user"
	};
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(request, "tools")) > 0 ||
	    cJSON_GetObjectItemCaseSensitive(request, "tool_choice") ||
	    cJSON_GetObjectItemCaseSensitive(request, "response_format"))
		return 1;
	cog_buf_putc(b, '{');
	size_t open = b->len;
	int rc = put_member(b, request, "model", false);
	if (rc)
		return rc;
	cog_buf_puts(b, b->len == open ? "\"messages\":[" : ",\"messages\":[");
	const cJSON *m;
	bool first = true;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(request, "messages")) {
		if (!first)
			cog_buf_putc(b, ',');
		first = false;
		if ((rc = put_message(b, m)))
			return rc;
	}
	cog_buf_putc(b, ']');
	for (size_t i = 0; i < COG_ARRAY_LEN(passed); i++)
		if ((rc = put_member(b, request, passed[i], true)))
			return rc;
	if (stream)
		cog_buf_puts(b, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
	cog_buf_putc(b, '}');
	return b->failed ? COG_ENOMEM : COG_OK;
}

int llm_openai_body_direct(const cJSON *request, bool stream, cog_buf *buf)
{
	size_t mark = buf->len;
	int rc = buf->failed ? 1 : put_body(buf, request, stream);
	if (rc && !buf->failed)
		buf->len = mark;
	return rc ? 1 : COG_OK;
}
