/*
 * Stream events (the format is in include/cognition/llm.h): delivered to a
 * caller's callback, for the assembler (assemble.c) as pieces arrive, and
 * for answers that were not streamed from a server (the cache, a replay),
 * told whole: one text event and one per tool call.
 */
#include <stdio.h>
#include <string.h>

#include "llm_int.h"

/* Hand an event to the caller: 0, or the negative status its callback
 * stopped the call with. */
int llm_event_send(cog_llm_call *call, const cog_buf *e)
{
	if (e->failed)
		return cog__oom("llm stream event");
	int rc = call->on_event(e->ptr, e->len, call->event_user_data);
	call->streamed = 1;
	if (rc < 0) {
		if (cog_error_last_code() == COG_OK)
			cog__error(rc, "the stream callback stopped the call (%s)",
				cog_strerror(rc));
		return rc;
	}
	return COG_OK;
}

/* An id for a call that never got one; the same in events and answer. */
void llm_made_up_call_id(char out[24], int index)
{
	snprintf(out, 24, "call_%d", index);
}

/* {"type":"tool_call","index":i[,"id"][,"name"],"arguments":"<text>"}:
 * members that are not known (NULL) are left out. */
void llm_event_put_call(cog_buf *e, int index, const char *id, const char *name,
                        const char *args, size_t args_len)
{
	cog_buf_clear(e);
	cog_buf_printf(e, "{\"type\":\"tool_call\",\"index\":%d", index);
	if (id) {
		cog_buf_puts(e, ",\"id\":");
		cog_buf_put_json_string(e, id, strlen(id));
	}
	if (name) {
		cog_buf_puts(e, ",\"name\":");
		cog_buf_put_json_string(e, name, strlen(name));
	}
	cog_buf_puts(e, ",\"arguments\":");
	cog_buf_put_json_string(e, args, args_len);
	cog_buf_putc(e, '}');
}

/* ---- a finished answer as events ---- */

/* What the assembler would have said of one call of a response: its id
 * (made up from its position when it has none), its name when known, and
 * its whole arguments text. */
static int put_response_call(cog_buf *e, const cJSON *tc, int index)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(tc, "arguments");
	const char *text = cog_json_get_string(tc, "arguments_text");
	char *printed = NULL;
	if (cJSON_IsObject(args) && !(printed = cog_json_print(args)))
		return COG_ENOMEM;
	if (printed)
		text = printed;
	char fallback[24];
	llm_made_up_call_id(fallback, index);
	const char *id = cog_json_get_string(tc, "id");
	llm_event_put_call(e, index, id ? id : fallback, cog_json_get_string(tc, "name"),
		text ? text : "", text ? strlen(text) : 0);
	cog_free(printed);
	return COG_OK;
}

int llm_emit_response_events(cog_llm_call *call, const cJSON *response)
{
	if (!call || !call->on_event)
		return COG_OK;
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(response, "message");
	const char *content = cog_json_get_string(message, "content");
	cog_buf e = COG_BUF_INIT;
	int rc = COG_OK;
	if (content && *content) {
		cog_buf_puts(&e, "{\"type\":\"text\",\"text\":");
		cog_buf_put_json_string(&e, content, strlen(content));
		cog_buf_putc(&e, '}');
		rc = llm_event_send(call, &e);
	}
	int index = 0;
	const cJSON *tc;
	cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(message, "tool_calls")) {
		if (rc)
			break;
		rc = put_response_call(&e, tc, index++);
		if (rc)
			rc = cog__oom("llm stream event");
		else
			rc = llm_event_send(call, &e);
	}
	cog_buf_dispose(&e);
	return rc;
}
