/*
 * lib/mcp/tools.c: the server's tools as the host sees them directly:
 * tools/list with its pages (mcp_list_all, shared with resources and
 * prompts), the allowed_tools filter, and tools/call with the checks of
 * its result (a content array; isError; structuredContent against the
 * tool's outputSchema: tools_schema.c). A list is capped in pages, items
 * and bytes: a server cannot make the client hold more than ~64 MiB;
 * tools/list at 10,000 tools (each may become a cog tool).
 */
#include <stdio.h>
#include <string.h>

#include "mcp_int.h"
#include "mcp_tools_int.h"

#define MCP_LIST_MAX_PAGES 1000
/* What one list may hold in all its pages (each page is capped by
 * max_message_bytes only): items, and their size as printed. */
#define MCP_LIST_MAX_ITEMS 100000
#define MCP_LIST_MAX_BYTES ((size_t)64 << 20)
/* tools/list holds fewer: every tool may become a definition in the
 * registry, redone at each list_changed. */
#define MCP_TOOLS_MAX_ITEMS 10000
#define MCP_ERROR_TEXT_MAX 1024

/* ---- pages ---- */

/* About the size of `item` printed without spaces (escapes aside), without
 * printing it. */
static size_t printed_size(const cJSON *item)
{
	if (cJSON_IsString(item))
		return strlen(item->valuestring) + 2;
	if (cJSON_IsNumber(item))
		return 8;
	if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
		return 5;
	size_t n = 2;
	for (const cJSON *c = item->child; c; c = c->next) {
		n += printed_size(c) + 1;
		if (c->string)
			n += strlen(c->string) + 3;
	}
	return n;
}

static bool cursor_seen(const cJSON *seen, const char *cursor)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, seen) {
		if (strcmp(c->valuestring, cursor) == 0)
			return true;
	}
	return false;
}

int mcp_list_all(cog_mcp *m, const char *method, const char *member,
                 cJSON **array)
{
	*array = NULL;
	cJSON *all = cJSON_CreateArray();
	cJSON *seen = cJSON_CreateArray();
	char *cursor = NULL;
	size_t items_count = 0, items_bytes = 0;
	bool tools_list = strcmp(method, "tools/list") == 0;
	size_t max_items = tools_list ? MCP_TOOLS_MAX_ITEMS : MCP_LIST_MAX_ITEMS;
	int rc = COG_OK;
	if (!all || !seen) {
		rc = cog__oom(method);
		goto out;
	}
	for (unsigned int page = 0;; page++) {
		if (page >= MCP_LIST_MAX_PAGES) {
			rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent more than %u "
				"pages", method, m->cfg.name, MCP_LIST_MAX_PAGES);
			goto out;
		}
		cJSON *params = NULL;
		if (cursor) {
			params = cJSON_CreateObject();
			if (!params || !cJSON_AddStringToObject(params, "cursor", cursor)) {
				cJSON_Delete(params);
				rc = cog__oom(method);
				goto out;
			}
		}
		cJSON *result = NULL;
		rc = mcp_request(m, method, params, 0, NULL, &result);
		if (rc != COG_OK)
			goto out;
		cJSON *items = cJSON_GetObjectItemCaseSensitive(result, member);
		if (!cJSON_IsObject(result) || !cJSON_IsArray(items)) {
			cJSON_Delete(result);
			rc = cog__error(COG_EPROTO, "%s: the answer of server \"%s\" has "
				"no \"%s\" array", method, m->cfg.name, member);
			goto out;
		}
		items_count += (size_t)cJSON_GetArraySize(items);
		if (items_count > max_items) {
			cJSON_Delete(result);
			if (tools_list)
				rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent more "
					"than %u tools (the cap of tools/list)", method,
					m->cfg.name, MCP_TOOLS_MAX_ITEMS);
			else
				rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent more "
					"than %u items (the cap of a list)", method,
					m->cfg.name, MCP_LIST_MAX_ITEMS);
			goto out;
		}
		items_bytes += printed_size(items);
		if (items_bytes > MCP_LIST_MAX_BYTES) {
			cJSON_Delete(result);
			rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent more than "
				"%zu MiB of items (the cap of a list)", method, m->cfg.name,
				MCP_LIST_MAX_BYTES >> 20);
			goto out;
		}
		cJSON *item;
		while ((item = cJSON_DetachItemFromArray(items, 0)) != NULL)
			cJSON_AddItemToArray(all, item);
		const cJSON *next = cJSON_GetObjectItemCaseSensitive(result, "nextCursor");
		cog_free(cursor);
		cursor = NULL;
		if (cJSON_IsString(next) && next->valuestring[0]) {
			/* The cursors kept count too. */
			items_bytes += strlen(next->valuestring);
			if (items_bytes > MCP_LIST_MAX_BYTES) {
				cJSON_Delete(result);
				rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent more "
					"than %zu MiB of items and cursors (the cap of a list)",
					method, m->cfg.name, MCP_LIST_MAX_BYTES >> 20);
				goto out;
			}
			if (cursor_seen(seen, next->valuestring)) {
				rc = cog__error(COG_EPROTO, "%s: server \"%s\" repeated the "
					"cursor \"%.64s\"", method, m->cfg.name, next->valuestring);
				cJSON_Delete(result);
				goto out;
			}
			cursor = cog__strdup(next->valuestring);
			cJSON *copy = cJSON_CreateString(next->valuestring);
			if (!cursor || !copy) {
				cJSON_Delete(copy);
				cJSON_Delete(result);
				rc = cog__oom(method);
				goto out;
			}
			cJSON_AddItemToArray(seen, copy);
		} else if (next && !cJSON_IsNull(next) && !cJSON_IsString(next)) {
			cJSON_Delete(result);
			rc = cog__error(COG_EPROTO, "%s: server \"%s\" sent a nextCursor "
				"that is not a string", method, m->cfg.name);
			goto out;
		}
		cJSON_Delete(result);
		if (!cursor)
			break;
	}
out:
	cog_free(cursor);
	cJSON_Delete(seen);
	if (rc != COG_OK) {
		cJSON_Delete(all);
		return rc;
	}
	*array = all;
	return COG_OK;
}

/* ---- tools/list ---- */

int mcp_tools_fetch(cog_mcp *m, cJSON **tools)
{
	cJSON *all = NULL;
	int rc = mcp_list_all(m, "tools/list", "tools", &all);
	if (rc != COG_OK)
		return rc;
	cJSON *kept = cJSON_CreateArray();
	if (!kept) {
		cJSON_Delete(all);
		return cog__oom("tools/list");
	}
	cJSON *tool;
	while ((tool = cJSON_DetachItemFromArray(all, 0)) != NULL) {
		const char *name = cog_json_get_string(tool, "name");
		if (!cJSON_IsObject(tool) || !name || !name[0]) {
			mcp_log(m, COG_LOG_WARN, NULL, "tools/list: a tool without a name "
				"was dropped");
			cJSON_Delete(tool);
			continue;
		}
		if (!mcp_tool_allowed(&m->cfg, name)) {
			cJSON_Delete(tool);
			continue;
		}
		cJSON_AddItemToArray(kept, tool);
	}
	cJSON_Delete(all);
	*tools = kept;
	return COG_OK;
}

/* Replace the cached catalogue (under tools_lock); takes `tools`. */
void mcp_tools_store_locked(cog_mcp *m, cJSON *tools)
{
	mcp_schema_cache_prune_locked(m, tools);
	cJSON_Delete(m->tools);
	m->tools = tools;
}

int cog_mcp_list_tools(cog_mcp *mcp, char **json)
{
	COG_CHECK_ARG(json, "cog_mcp_list_tools", "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(mcp, "cog_mcp_list_tools", "mcp is NULL");
	cJSON *tools = NULL;
	int rc = mcp_tools_fetch(mcp, &tools);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "cog_mcp_list_tools");
	char *text = cog_json_print(tools);
	pthread_mutex_lock(&mcp->tools_lock);
	if (!mcp_tools_gone_locked(mcp)) {
		mcp_tools_store_locked(mcp, tools);
		tools = NULL;
	}
	pthread_mutex_unlock(&mcp->tools_lock);
	cJSON_Delete(tools);
	if (!text)
		return cog__oom("cog_mcp_list_tools");
	*json = text;
	return COG_OK;
}

/* ---- tools/call ---- */

/* The text items of content joined by newlines, cut to about 1 KiB at a
 * UTF-8 boundary; cog_malloc'd or NULL on OOM. */
char *mcp_tools_error_text(const cJSON *result)
{
	cog_buf b = COG_BUF_INIT;
	const cJSON *item;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(result, "content")) {
		const char *type = cog_json_get_string(item, "type");
		const char *text = cog_json_get_string(item, "text");
		if (!type || strcmp(type, "text") != 0 || !text)
			continue;
		if (b.len)
			cog_buf_putc(&b, '\n');
		cog_buf_puts(&b, text);
		if (b.len > MCP_ERROR_TEXT_MAX)
			break;
	}
	if (b.len == 0)
		cog_buf_puts(&b, "the tool reported an error without text");
	if (!b.failed && b.len > MCP_ERROR_TEXT_MAX) {
		size_t cut = MCP_ERROR_TEXT_MAX;
		while (cut > 0 && ((unsigned char)b.ptr[cut] & 0xC0) == 0x80)
			cut--;
		b.len = cut;
		b.ptr[cut] = '\0';
		cog_buf_puts(&b, "...");
	}
	return cog_buf_detach(&b);
}

int mcp_tools_call(cog_mcp *m, const char *tool, const char *arguments_json,
                   unsigned int timeout_ms, cJSON **result_out, char **error_text)
{
	*result_out = NULL;
	*error_text = NULL;
	if (!mcp_tool_allowed(&m->cfg, tool))
		return cog__error(COG_EDENIED, "tool \"%s\" of server \"%s\" is not in "
			"its allowed_tools", tool, m->cfg.name);
	cJSON *args = NULL;
	if (arguments_json) {
		int rc = cog_json_parse(&args, arguments_json, "arguments");
		if (rc != COG_OK)
			return rc;
		if (!cJSON_IsObject(args)) {
			cJSON_Delete(args);
			return cog__error(COG_EINVAL, "the arguments of tool \"%s\" are "
				"not a JSON object", tool);
		}
	} else if (!(args = cJSON_CreateObject())) {
		return cog__oom("arguments");
	}
	cJSON *params = cJSON_CreateObject();
	if (!params || !cJSON_AddStringToObject(params, "name", tool)) {
		cJSON_Delete(params);
		cJSON_Delete(args);
		return cog__oom("tools/call");
	}
	cJSON_AddItemToObject(params, "arguments", args);
	char token[48];
	const char *progress = NULL;
	if (!(m->cfg.flags & COG_MCP_NO_PROGRESS)) {
		cog_id id;
		char hex[33];
		cog_id_new(&id);
		cog_id_to_hex(&id, hex);
		snprintf(token, sizeof(token), "cog-%s", hex);
		progress = token;
	}
	cJSON *result = NULL;
	int rc = mcp_request(m, "tools/call", params, timeout_ms, progress, &result);
	if (rc != COG_OK)
		return rc;
	if (!cJSON_IsObject(result) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(result, "content"))) {
		cJSON_Delete(result);
		return cog__error(COG_EPROTO, "the result of tool \"%s\" of server "
			"\"%s\" has no content array", tool, m->cfg.name);
	}
	*result_out = result;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError"))) {
		*error_text = mcp_tools_error_text(result);
		if (!*error_text)
			return cog__oom("tools/call");
		return cog__error(COG_EUSER, "%s", *error_text);
	}
	return mcp_tools_check_structured(m, tool, result);
}

int cog_mcp_call_tool(cog_mcp *mcp, const char *tool, const char *arguments_json,
                      unsigned int timeout_ms, char **result_json)
{
	COG_CHECK_ARG(result_json, "cog_mcp_call_tool", "result_json is NULL");
	*result_json = NULL;
	COG_CHECK_ARG(mcp, "cog_mcp_call_tool", "mcp is NULL");
	COG_CHECK_ARG(tool && tool[0], "cog_mcp_call_tool", "tool is NULL or empty");
	cJSON *result = NULL;
	char *error_text = NULL;
	int rc = mcp_tools_call(mcp, tool, arguments_json, timeout_ms, &result,
	                        &error_text);
	if (result) {
		*result_json = cog_json_print(result);
		cJSON_Delete(result);
		if (!*result_json) {
			cog_free(error_text);
			return cog__oom("cog_mcp_call_tool");
		}
	}
	if (rc == COG_EUSER && error_text) {
		/* The message is the server's own text. */
		cog__error(COG_EUSER, "%s", error_text);
	} else if (rc != COG_OK) {
		cog__error_wrap(rc, "cog_mcp_call_tool");
	}
	cog_free(error_text);
	return rc;
}
