/*
 * The messages of a request → Anthropic's "system" and "messages" (part of
 * the request body that anthropic.c builds):
 *   - system messages, wherever they are, become the top-level "system"
 *     (several joined by a blank line);
 *   - user and assistant messages become content blocks (text, and an
 *     assistant's tool_calls as tool_use blocks with an input object);
 *   - tool messages become tool_result blocks of a user turn;
 *   - neighbouring turns of one role are merged into one, so consecutive
 *     tool results share a user turn and the roles alternate as the API
 *     wants; messages with nothing to say (empty text) are left out, since
 *     the API refuses empty text blocks.
 */
#include <string.h>

#include "anthropic_int.h"

typedef struct body_builder {
	cJSON *messages;              /* the body's "messages" */
	cJSON *turn;                  /* content array of the last turn */
	const char *turn_role;        /* its role (static text) */
	cog_buf system;
} body_builder;

/* Append a block (consumed) to the last turn if it has this role, else to
 * a new turn. */
static int add_block(body_builder *b, const char *role, cJSON *block)
{
	if (!block)
		return cog__oom("anthropic: request body");
	if (!b->turn || strcmp(b->turn_role, role) != 0) {
		cJSON *turn = cJSON_CreateObject();
		cJSON *content = cJSON_CreateArray();
		if (!turn || !content || !cJSON_AddStringToObject(turn, "role", role) ||
		    !cJSON_AddItemToObject(turn, "content", content)) {
			cJSON_Delete(turn);
			cJSON_Delete(content);
			cJSON_Delete(block);
			return cog__oom("anthropic: request body");
		}
		/* content belongs to turn from here on */
		if (!cJSON_AddItemToArray(b->messages, turn)) {
			cJSON_Delete(turn);
			cJSON_Delete(block);
			return cog__oom("anthropic: request body");
		}
		b->turn = content;
		b->turn_role = role;
	}
	if (!cJSON_AddItemToArray(b->turn, block)) {
		cJSON_Delete(block);
		return cog__oom("anthropic: request body");
	}
	return COG_OK;
}

static cJSON *text_block(const char *text)
{
	cJSON *block = cJSON_CreateObject();
	if (block && (!cJSON_AddStringToObject(block, "type", "text") ||
	              !cJSON_AddStringToObject(block, "text", text))) {
		cJSON_Delete(block);
		return NULL;
	}
	return block;
}

static int add_tool_use(body_builder *b, const cJSON *call, int m, int k)
{
	const char *id = cog_json_get_string(call, "id");
	const char *name = cog_json_get_string(call, "name");
	if (!id || !name)
		return cog__error(COG_EINVAL, "anthropic: /messages/%d/tool_calls/%d: "
			"a tool call needs an id and a name", m, k);
	/* Arguments that never were an object ("arguments":null, the text in
	 * "arguments_text") are sent as {}: Anthropic wants an input object. */
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
	cJSON *input = cJSON_IsObject(args) ? cJSON_Duplicate(args, true)
	                                    : cJSON_CreateObject();
	cJSON *block = cJSON_CreateObject();
	if (!input || !block || !cJSON_AddStringToObject(block, "type", "tool_use") ||
	    !cJSON_AddStringToObject(block, "id", id) ||
	    !cJSON_AddStringToObject(block, "name", name) ||
	    !cJSON_AddItemToObject(block, "input", input)) {
		cJSON_Delete(input);
		cJSON_Delete(block);
		return cog__oom("anthropic: request body");
	}
	return add_block(b, "assistant", block);
}

static int add_tool_result(body_builder *b, const cJSON *msg, int m)
{
	const char *id = cog_json_get_string(msg, "tool_call_id");
	if (!id)
		return cog__error(COG_EINVAL, "anthropic: /messages/%d: a tool message "
			"needs tool_call_id", m);
	const char *content = cog_json_get_string(msg, "content");
	cJSON *block = cJSON_CreateObject();
	if (!block || !cJSON_AddStringToObject(block, "type", "tool_result") ||
	    !cJSON_AddStringToObject(block, "tool_use_id", id) ||
	    (content && content[0] && !cJSON_AddStringToObject(block, "content", content))) {
		cJSON_Delete(block);
		return cog__oom("anthropic: request body");
	}
	return add_block(b, "user", block);
}

static int add_message(body_builder *b, const cJSON *msg, int m)
{
	const char *role = cog_json_get_string(msg, "role");
	const char *content = cog_json_get_string(msg, "content");
	if (!role)
		return cog__error(COG_EINVAL, "anthropic: /messages/%d: no role", m);
	if (strcmp(role, "system") == 0) {
		if (content && content[0]) {
			if (b->system.len)
				cog_buf_puts(&b->system, "\n\n");
			cog_buf_puts(&b->system, content);
		}
		return b->system.failed ? cog__oom("anthropic: request body") : COG_OK;
	}
	if (strcmp(role, "tool") == 0)
		return add_tool_result(b, msg, m);
	const char *turn_role = strcmp(role, "assistant") == 0 ? "assistant" : "user";
	int rc = COG_OK;
	if (content && content[0])
		rc = add_block(b, turn_role, text_block(content));
	if (rc || strcmp(turn_role, "assistant") != 0)
		return rc;
	const cJSON *call;
	int k = 0;
	cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
		if ((rc = add_tool_use(b, call, m, k++)))
			return rc;
	}
	return COG_OK;
}

int llm_anthropic_turns(const cJSON *request, cJSON *body)
{
	body_builder b = { NULL, NULL, NULL, COG_BUF_INIT };
	int rc = COG_OK;
	if (!(b.messages = cJSON_CreateArray()))
		rc = cog__oom("anthropic: request body");
	const cJSON *msg;
	int m = 0;
	cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(request, "messages")) {
		if (rc)
			break;
		rc = add_message(&b, msg, m++);
	}
	if (!rc && cJSON_GetArraySize(b.messages) == 0)
		rc = cog__error(COG_EINVAL, "anthropic: the request has no user or assistant "
			"message with content (Anthropic needs at least one)");
	if (!rc && b.system.len && !cJSON_AddStringToObject(body, "system", b.system.ptr))
		rc = cog__oom("anthropic: request body");
	if (!rc && !cJSON_AddItemToObject(body, "messages", b.messages))
		rc = cog__oom("anthropic: request body");
	if (!rc)
		b.messages = NULL;    /* the body's now */
	cJSON_Delete(b.messages);
	cog_buf_dispose(&b.system);
	return rc;
}
