/*
 * What the tool files of lib/mcp share (tools.c, tools_schema.c,
 * tools_define.c, tools_refresh.c). Private to them.
 */
#ifndef COG_MCP_TOOLS_INT_H
#define COG_MCP_TOOLS_INT_H

#include "cognition/schema.h"
#include "mcp_int.h"

/* tools/list, every page, allowed tools only (objects with a name). */
int mcp_tools_fetch(cog_mcp *m, cJSON **tools);
/* Replace m->tools (caller holds tools_lock); takes `tools`. */
void mcp_tools_store_locked(cog_mcp *m, cJSON *tools);
/* tools/call of `tool`: *result_out gets the CallToolResult whenever the
 * server answered one with a content array; isError: COG_EUSER and
 * *error_text the text (cog_malloc'd). Messages without a prefix. */
int mcp_tools_call(cog_mcp *m, const char *tool, const char *arguments_json,
                   unsigned int timeout_ms, cJSON **result_out, char **error_text);
/* The text items of a result joined, cut to ~1 KiB (cog_malloc'd). */
char *mcp_tools_error_text(const cJSON *result);

/* tools_schema.c: check the structuredContent of `result` against the
 * outputSchema of `tool` in the catalogue (listing it once if never
 * listed); COG_ESCHEMA when it does not match. Compiled schemas are kept
 * in m->tool_schemas under tools_lock, at most one per tool. */
int mcp_tools_check_structured(cog_mcp *m, const char *tool, const cJSON *result);
/* A new catalogue is stored (caller holds tools_lock): drop the compiled
 * schemas of tools no longer in it. */
void mcp_schema_cache_prune_locked(cog_mcp *m, const cJSON *tools);
/* The connection's tools go (mcp_tools_undefine, caller holds
 * tools_lock): take the table (for mcp_schema_cache_release() after
 * unlocking) and mark them gone for good. */
void *mcp_schema_cache_take_locked(cog_mcp *m);
void mcp_schema_cache_release(void *list);
/* Whether mcp_tools_undefine began (caller holds tools_lock): no refresh,
 * no definition, nothing kept from then on. */
bool mcp_tools_gone_locked(const cog_mcp *m);

/* tools_define.c: the registry side. Callers hold tools_lock. */
/* The cog names of the catalogue's tools with `prefix`: an object
 * cog name -> server tool name (unique: a clash or a name over 64 bytes
 * gets a short hash of the server's name). NULL on OOM (error set). */
cJSON *mcp_tools_names(const char *prefix, const cJSON *tools);
/* Define server tool `tool` (an object of the catalogue) as cog_name and
 * remember it in m->defined, where cog_name must not be (appended). */
int mcp_define_one_locked(cog_mcp *m, const char *cog_name, const cJSON *tool);
/* Remove cog tool `cog_name` of this connection and forget it. */
void mcp_undefine_one_locked(cog_mcp *m, const char *cog_name);
/* The same for `item`, a member of m->defined (freed here): no search. */
void mcp_undefine_item_locked(cog_mcp *m, cJSON *item);
/* The catalogue's tool named `name`, or NULL. */
const cJSON *mcp_tools_find(const cJSON *tools, const char *name);
/* tools_refresh.c: start a refresh (or have the running one go again);
 * caller holds tools_lock. While no refresh runs, refresh_again is the
 * "changed since the last list" mark. */
void mcp_tools_refresh_kick_locked(cog_mcp *m);

/* tools_index.c: names -> the cJSON items that bear them, O(1) a look-up
 * (keys borrowed: the items must outlive the index). */
typedef struct mcp_index {
	void *slots;
	size_t cap, count;
	unsigned char key[16];   /* the hash's, drawn per index */
} mcp_index;
/* An empty index for about `expect` keys (it grows). COG_ENOMEM. */
int mcp_index_init(mcp_index *ix, size_t expect);
void mcp_index_dispose(mcp_index *ix);
/* Add key -> item; COG_EEXISTS (and nothing changes) when key is there. */
int mcp_index_put(mcp_index *ix, const char *key, const cJSON *item);
/* The item of key, or NULL. */
const cJSON *mcp_index_get(const mcp_index *ix, const char *key);
/* Index a catalogue's tools by their "name" (the first of a name wins,
 * like mcp_tools_find), or an object's members by their keys. On
 * failure (COG_ENOMEM, error set) the index is empty. */
int mcp_index_tools(mcp_index *ix, const cJSON *tools);
int mcp_index_members(mcp_index *ix, const cJSON *object);

/* Whether the connection is closing (m->lock taken briefly). */
bool mcp_tools_closing(cog_mcp *m);

#endif
