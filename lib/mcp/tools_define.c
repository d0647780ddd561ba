/*
 * lib/mcp/tools_define.c: the server's tools as cog tools in the
 * context's registry (cog_mcp_define_tools). Each definition's runner holds
 * a reference on the connection; m->defined maps cog names to server
 * names. The refresh that follows tools/list_changed is in
 * tools_refresh.c.
 */
#include <stdio.h>
#include <string.h>

#include "cognition/tool.h"
#include "mcp_tools_int.h"

#define HASH_HEX 8

bool mcp_tools_closing(cog_mcp *m)
{
	pthread_mutex_lock(&m->lock);
	bool c = m->closing;
	pthread_mutex_unlock(&m->lock);
	return c;
}

const cJSON *mcp_tools_find(const cJSON *tools, const char *name)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		const char *n = cog_json_get_string(t, "name");
		if (n && strcmp(n, name) == 0)
			return t;
	}
	return NULL;
}

/* prefix + name with characters outside [A-Za-z0-9_-] as '_'; with
 * `hashed` (or when longer than 64) cut and ended by "_" and 8 hex digits
 * of a hash of the server's full name. */
static char *cog_name_of(const char *prefix, const char *name, bool hashed)
{
	cog_buf b = COG_BUF_INIT;
	cog_buf_puts(&b, prefix);
	cog_buf_puts(&b, name);
	if (b.failed)
		return NULL;
	for (size_t i = 0; i < b.len; i++) {
		char c = b.ptr[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok)
			b.ptr[i] = '_';
	}
	if (hashed || b.len > COG_TOOL_NAME_MAX) {
		uint8_t digest[16];
		char hex[33];
		cog_hash_blake2b(digest, sizeof(digest), name, strlen(name), NULL, 0);
		cog_hex_encode(digest, sizeof(digest), hex);
		size_t keep = COG_TOOL_NAME_MAX - 1 - HASH_HEX;
		if (b.len > keep)
			b.len = keep;
		b.ptr[b.len] = '\0';
		cog_buf_putc(&b, '_');
		cog_buf_put(&b, hex, HASH_HEX);
	}
	return cog_buf_detach(&b);
}

cJSON *mcp_tools_names(const char *prefix, const cJSON *tools)
{
	cJSON *names = cJSON_CreateObject();
	/* The names taken so far (keys are names' own): one look-up each,
	 * not a scan of names. */
	mcp_index taken;
	if (!names || mcp_index_init(&taken, (size_t)cJSON_GetArraySize(tools)) != COG_OK) {
		cJSON_Delete(names);
		cog__oom("tool names");
		return NULL;
	}
	const cJSON *t;
	cJSON_ArrayForEach(t, tools) {
		const char *server = cog_json_get_string(t, "name");
		if (!server)
			continue;
		char *cog = cog_name_of(prefix, server, false);
		if (cog && mcp_index_get(&taken, cog)) {
			cog_free(cog);
			cog = cog_name_of(prefix, server, true);
		}
		bool oom = !cog;
		if (cog && !mcp_index_get(&taken, cog)) {
			/* A clash even with the hash: the second is left out. */
			cJSON *added = cJSON_AddStringToObject(names, cog, server);
			oom = !added || mcp_index_put(&taken, added->string, added) == COG_ENOMEM;
		}
		cog_free(cog);
		if (oom) {
			mcp_index_dispose(&taken);
			cJSON_Delete(names);
			cog__oom("tool names");
			return NULL;
		}
	}
	mcp_index_dispose(&taken);
	return names;
}

/* ---- the runner ---- */

typedef struct runner_data {
	cog_mcp *m;
	char *server_tool;
} runner_data;

static void runner_free(void *user_data)
{
	runner_data *rd = user_data;
	mcp_unref(rd->m);
	cog_free(rd->server_tool);
	cog_free(rd);
}

static int mcp_tool_runner(const cog_tool_request *request, char **result_json,
                           void *user_data)
{
	runner_data *rd = user_data;
	cog_mcp *m = rd->m;
	if (mcp_tools_closing(m))
		return cog__error(COG_EUNAVAILABLE, "the connection to MCP server "
			"\"%s\" is closed", m->cfg.name);
	cJSON *result = NULL;
	char *error_text = NULL;
	int rc = mcp_tools_call(m, rd->server_tool, request->arguments,
	                        request->timeout_ms, &result, &error_text);
	if (rc == COG_EUSER && error_text) {
		/* The model sees the server's own words. */
		cog__error(COG_EUSER, "%s", error_text);
	} else if (rc == COG_OK) {
		cJSON_DeleteItemFromObjectCaseSensitive(result, "isError");
		*result_json = cog_json_print(result);
		if (!*result_json)
			rc = cog__oom("MCP tool result");
	} else if ((rc == COG_ECANCELED || rc == COG_EUNAVAILABLE) &&
	           mcp_tools_closing(m)) {
		/* cog_mcp_close() during the call: say so, whatever the wait saw. */
		cog__error_wrap(rc, "MCP server \"%s\", tool \"%s\": the connection was "
		                "closed during the call", m->cfg.name, rd->server_tool);
	} else {
		cog__error_wrap(rc, "MCP server \"%s\", tool \"%s\"", m->cfg.name,
		                rd->server_tool);
	}
	cJSON_Delete(result);
	cog_free(error_text);
	return rc;
}

/* ---- definitions ---- */

static char *description_of(const cJSON *tool)
{
	const char *title = cog_json_get_string(tool, "title");
	if (!title)
		title = cog_json_get_string(
			cJSON_GetObjectItemCaseSensitive(tool, "annotations"), "title");
	const char *desc = cog_json_get_string(tool, "description");
	if (!title && !desc)
		return NULL;
	cog_buf b = COG_BUF_INIT;
	if (title && desc)
		cog_buf_printf(&b, "%s: %s", title, desc);
	else
		cog_buf_puts(&b, title ? title : desc);
	return cog_buf_detach(&b);
}

/* A server's annotations are hints from the server, not facts: a
 * readOnlyHint adds COG_TOOL_IDEMPOTENT (shown in the registry), but every
 * MCP tool stays COG_TOOL_SIDE_EFFECTS, so a run tainted by injected
 * content cannot call it unchecked because the server says it is
 * harmless. */
static unsigned int flags_of(const cJSON *tool, unsigned int extra)
{
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(tool, "annotations");
	bool read_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ann, "readOnlyHint"));
	return COG_TOOL_SIDE_EFFECTS | (read_only ? COG_TOOL_IDEMPOTENT : 0u) | extra;
}

int mcp_define_one_locked(cog_mcp *m, const char *cog_name, const cJSON *tool)
{
	const char *server = cog_json_get_string(tool, "name");
	if (!m->defined && !(m->defined = cJSON_CreateObject()))
		return cog__oom("defined tools");
	runner_data *rd = cog__calloc(1, sizeof(*rd));
	char *desc = description_of(tool);
	char *input = NULL;
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(tool, "inputSchema");
	if (in && !cJSON_IsNull(in))
		input = cog_json_print(in);
	cJSON *server_copy = cJSON_CreateString(server);
	if (!rd || !server_copy || !(rd->server_tool = cog__strdup(server)) ||
	    (in && !cJSON_IsNull(in) && !input)) {
		if (rd)
			cog_free(rd->server_tool);
		cog_free(rd);
		cog_free(desc);
		cog_free(input);
		cJSON_Delete(server_copy);
		return cog__oom("defining an MCP tool");
	}
	rd->m = m;
	mcp_ref(m);
	cog_tool_options o = COG_TOOL_OPTIONS_INIT;
	o.name = cog_name;
	o.description = desc;
	o.input_schema = input;
	o.flags = flags_of(tool, m->tool_flags);
	o.timeout_ms = m->cfg.timeout_ms;
	/* What the server may send is capped by max_message_bytes already (a
	 * bigger answer never arrives); the registry's 1 MiB default would
	 * refuse images and files below that cap. */
	o.max_output_bytes = m->cfg.max_message_bytes;
	o.fn = mcp_tool_runner;
	o.user_data = rd;
	o.free_user_data = runner_free;
	int rc = cog_tool_define(m->ctx, &o);
	cog_free(desc);
	cog_free(input);
	if (rc != COG_OK) {
		runner_free(rd);
		cJSON_Delete(server_copy);
		if (rc == COG_EEXISTS)
			return cog__error(COG_EEXISTS, "a tool named \"%s\" exists and is "
				"not this connection's (MCP server \"%s\", tool \"%s\")",
				cog_name, m->cfg.name, server);
		return cog__error_wrap(rc, "MCP server \"%s\", tool \"%s\" as \"%s\"",
		                       m->cfg.name, server, cog_name);
	}
	/* Not in m->defined (see mcp_tools_int.h): appended, O(1). */
	cJSON_AddItemToObject(m->defined, cog_name, server_copy);
	return COG_OK;
}

static void remove_from_registry(cog_mcp *m, const char *cog_name)
{
	int rc = cog_tool_remove(m->ctx, cog_name);
	if (rc != COG_OK && rc != COG_ENOTFOUND)
		mcp_log(m, COG_LOG_WARN, NULL, "removing tool \"%s\": %s", cog_name,
		        cog_error_last());
}

void mcp_undefine_one_locked(cog_mcp *m, const char *cog_name)
{
	remove_from_registry(m, cog_name);
	cJSON_DeleteItemFromObjectCaseSensitive(m->defined, cog_name);
}

void mcp_undefine_item_locked(cog_mcp *m, cJSON *item)
{
	remove_from_registry(m, item->string);
	cJSON_Delete(cJSON_DetachItemViaPointer(m->defined, item));
}

static void undefine_all_locked(cog_mcp *m)
{
	while (m->defined && m->defined->child) {
		char *name = cog__strdup(m->defined->child->string);
		if (!name) {   /* cannot copy: remove by the borrowed name */
			cog_tool_remove(m->ctx, m->defined->child->string);
			cJSON_DeleteItemFromObjectCaseSensitive(m->defined,
				m->defined->child->string);
			continue;
		}
		mcp_undefine_one_locked(m, name);
		cog_free(name);
	}
}

int cog_mcp_define_tools(cog_mcp *mcp, const char *prefix, unsigned int flags)
{
	COG_CHECK_ARG(mcp, "cog_mcp_define_tools", "mcp is NULL");
	if (prefix && strlen(prefix) >= COG_TOOL_NAME_MAX)
		return cog__error(COG_EINVAL, "cog_mcp_define_tools: prefix \"%.64s...\" "
			"is longer than %d bytes", prefix, COG_TOOL_NAME_MAX - 1);
	cog_buf pb = COG_BUF_INIT;
	if (prefix)
		cog_buf_puts(&pb, prefix);
	else
		cog_buf_printf(&pb, "%s__", mcp->cfg.name);
	char *pfx = cog_buf_detach(&pb);
	if (!pfx)
		return cog__oom("cog_mcp_define_tools");
	pthread_mutex_lock(&mcp->tools_lock);
	if (!mcp->refresh_running)
		mcp->refresh_again = false;   /* changes from now on are marked */
	pthread_mutex_unlock(&mcp->tools_lock);
	cJSON *tools = NULL;
	int rc = mcp_tools_fetch(mcp, &tools);
	if (rc != COG_OK) {
		cog_free(pfx);
		return cog__error_wrap(rc, "cog_mcp_define_tools");
	}
	cJSON *names = mcp_tools_names(pfx, tools);
	if (!names) {
		cog_free(pfx);
		cJSON_Delete(tools);
		return cog__oom("cog_mcp_define_tools");
	}

	pthread_mutex_lock(&mcp->tools_lock);
	if (mcp_tools_gone_locked(mcp)) {
		pthread_mutex_unlock(&mcp->tools_lock);
		cog_free(pfx);
		cJSON_Delete(tools);
		cJSON_Delete(names);
		return cog__error(COG_ECANCELED, "cog_mcp_define_tools: the connection "
			"to server \"%s\" is closing", mcp->cfg.name);
	}
	undefine_all_locked(mcp);
	cog_free(mcp->tool_prefix);
	mcp->tool_prefix = NULL;
	mcp->tool_flags = flags;
	size_t count = 0;
	mcp_index by_name;
	rc = mcp_index_tools(&by_name, tools);
	const cJSON *n;
	for (n = names->child; n && rc == COG_OK; n = n->next) {
		rc = mcp_define_one_locked(mcp, n->string,
		                           mcp_index_get(&by_name, n->valuestring));
		if (rc == COG_OK)
			count++;
	}
	mcp_index_dispose(&by_name);
	if (rc != COG_OK) {
		undefine_all_locked(mcp);   /* nothing half-defined */
		cog_free(pfx);
	} else {
		mcp->tool_prefix = pfx;
	}
	mcp_tools_store_locked(mcp, tools);
	/* The list changed while it was fetched (or a refresh of the old
	 * definitions is running): bring the new ones up to date. */
	if (rc == COG_OK && (mcp->refresh_again || mcp->refresh_running))
		mcp_tools_refresh_kick_locked(mcp);
	pthread_mutex_unlock(&mcp->tools_lock);
	cJSON_Delete(names);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "cog_mcp_define_tools");
	mcp_log(mcp, COG_LOG_INFO, NULL, "defined %zu tools", count);
	return COG_OK;
}
