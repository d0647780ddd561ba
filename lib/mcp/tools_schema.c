/*
 * lib/mcp/tools_schema.c: the structuredContent of a tool's result checked
 * against the tool's outputSchema. The outputSchema comes from the cached
 * catalogue (m->tools): a call before any list lists once (list_once), and
 * list_changed refreshes it (tools_refresh.c); no call lists again.
 *
 * Compiled schemas are kept on the connection (m->tool_schemas, under
 * tools_lock): at most one per tool, the one of the schema text last used,
 * so a server changing a tool's outputSchema on every list costs a
 * compilation per change, never an entry. A new text replaces the old
 * entry; entries of tools gone from a new catalogue go with it. An entry is
 * reference-counted: a validation running when its entry is replaced, or
 * when the connection's tools go (mcp_tools_undefine), keeps its schema
 * alive until it ends. Once the tools are gone, m->tool_schemas holds a
 * mark instead of a list: schemas compiled after that are used once and
 * never kept, and no refresh starts.
 */
#include <string.h>

#include "mcp_tools_int.h"

typedef struct schema_ref {
	char *tool;
	char *text;
	cog_schema *schema;
	atomic_int refs;              /* the table's (while listed) + users' */
	struct schema_ref *next;
} schema_ref;

/* What m->tool_schemas holds once the connection's tools are gone. */
static char gone_mark;
#define SCHEMAS_GONE ((void *)&gone_mark)

static void ref_release(schema_ref *ref)
{
	if (ref && atomic_fetch_sub(&ref->refs, 1) == 1) {
		cog_schema_free(ref->schema);
		cog_free(ref->tool);
		cog_free(ref->text);
		cog_free(ref);
	}
}

bool mcp_tools_gone_locked(const cog_mcp *m)
{
	return m->tool_schemas == SCHEMAS_GONE;
}

/* The listed entry of `tool` (and the one before it in *prev), or NULL. */
static schema_ref *find_locked(cog_mcp *m, const char *tool, schema_ref **prev)
{
	*prev = NULL;
	if (mcp_tools_gone_locked(m))
		return NULL;
	for (schema_ref *r = m->tool_schemas; r; *prev = r, r = r->next) {
		if (strcmp(r->tool, tool) == 0)
			return r;
	}
	return NULL;
}

static void unlink_locked(cog_mcp *m, schema_ref *r, schema_ref *prev)
{
	if (prev)
		prev->next = r->next;
	else
		m->tool_schemas = r->next;
	r->next = NULL;
}

/* The listed entry of (tool, text) with a reference taken, or NULL. */
static schema_ref *take_locked(cog_mcp *m, const char *tool, const char *text)
{
	schema_ref *prev;
	schema_ref *r = find_locked(m, tool, &prev);
	if (!r || strcmp(r->text, text) != 0)
		return NULL;
	atomic_fetch_add(&r->refs, 1);
	return r;
}

/* The compiled schema of (tool, schema_text), with a reference for the
 * caller (ref_release() when done). */
static int schema_get(cog_mcp *m, const char *tool, const char *schema_text,
                      schema_ref **out)
{
	pthread_mutex_lock(&m->tools_lock);
	*out = take_locked(m, tool, schema_text);
	pthread_mutex_unlock(&m->tools_lock);
	if (*out)
		return COG_OK;

	/* Compiled without the lock: a schema may be big. */
	schema_ref *ref = cog__calloc(1, sizeof(*ref));
	if (!ref)
		return cog__oom("outputSchema");
	ref->tool = cog__strdup(tool);
	ref->text = cog__strdup(schema_text);
	atomic_init(&ref->refs, 1);
	if (!ref->tool || !ref->text) {
		ref_release(ref);
		return cog__oom("outputSchema");
	}
	int rc = cog_schema_new(&ref->schema, schema_text, COG_SCHEMA_DRAFT_2020_12);
	if (rc != COG_OK) {
		ref_release(ref);
		return rc;
	}
	schema_ref *other = NULL, *replaced = NULL;
	pthread_mutex_lock(&m->tools_lock);
	other = take_locked(m, tool, schema_text);
	if (!other && !mcp_tools_gone_locked(m)) {
		schema_ref *prev;
		replaced = find_locked(m, tool, &prev);
		if (replaced)   /* the tool's schema changed: the old entry goes */
			unlink_locked(m, replaced, prev);
		atomic_fetch_add(&ref->refs, 1);
		ref->next = m->tool_schemas;
		m->tool_schemas = ref;
	}
	pthread_mutex_unlock(&m->tools_lock);
	ref_release(replaced);   /* freed now, or by its last user */
	if (other) {   /* another call compiled it meanwhile: use that one */
		ref_release(ref);
		ref = other;
	}
	*out = ref;
	return COG_OK;
}

void mcp_schema_cache_prune_locked(cog_mcp *m, const cJSON *tools)
{
	if (mcp_tools_gone_locked(m))
		return;
	/* One look-up per kept schema, not a scan of the catalogue (out of
	 * memory for the index: the scans). */
	mcp_index ix;
	bool indexed = m->tool_schemas && mcp_index_tools(&ix, tools) == COG_OK;
	schema_ref *prev = NULL, *r = m->tool_schemas;
	while (r) {
		schema_ref *next = r->next;
		const cJSON *t = indexed ? mcp_index_get(&ix, r->tool) :
		                           mcp_tools_find(tools, r->tool);
		if (t) {
			prev = r;
		} else {
			unlink_locked(m, r, prev);
			ref_release(r);
		}
		r = next;
	}
	if (indexed)
		mcp_index_dispose(&ix);
}

void *mcp_schema_cache_take_locked(cog_mcp *m)
{
	void *list = mcp_tools_gone_locked(m) ? NULL : m->tool_schemas;
	m->tool_schemas = SCHEMAS_GONE;
	return list;
}

void mcp_schema_cache_release(void *list)
{
	schema_ref *r = list;
	while (r) {
		schema_ref *next = r->next;
		ref_release(r);
		r = next;
	}
}

/* ---- the check ---- */

/* The tool's outputSchema printed (cog_malloc'd) from the catalogue, or
 * NULL when it has none; *known tells whether the tool is in it. */
static char *output_schema_of(cog_mcp *m, const char *tool, bool *known)
{
	char *text = NULL;
	*known = false;
	pthread_mutex_lock(&m->tools_lock);
	const cJSON *t;
	cJSON_ArrayForEach(t, m->tools) {
		const char *name = cog_json_get_string(t, "name");
		if (name && strcmp(name, tool) == 0) {
			*known = true;
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "outputSchema");
			if (s && !cJSON_IsNull(s))
				text = cog_json_print(s);
			break;
		}
	}
	bool listed = m->tools != NULL;
	pthread_mutex_unlock(&m->tools_lock);
	if (!listed)
		*known = false;
	return text;
}

/* The catalogue, listed once when nothing is cached yet (a direct call
 * before any list); a refresh follows list_changed from then on. */
static int list_once(cog_mcp *m)
{
	pthread_mutex_lock(&m->tools_lock);
	bool have = m->tools || mcp_tools_gone_locked(m);
	if (!have && !m->refresh_running)
		m->refresh_again = false;   /* list_changed from now on is marked */
	pthread_mutex_unlock(&m->tools_lock);
	if (have)
		return COG_OK;
	cJSON *tools = NULL;
	int rc = mcp_tools_fetch(m, &tools);
	if (rc != COG_OK)
		return rc;
	pthread_mutex_lock(&m->tools_lock);
	if (!m->tools && !mcp_tools_gone_locked(m)) {
		mcp_tools_store_locked(m, tools);
		tools = NULL;
		/* The list changed while it was fetched: list again. */
		if (m->refresh_again && !m->refresh_running)
			mcp_tools_refresh_kick_locked(m);
	}
	pthread_mutex_unlock(&m->tools_lock);
	cJSON_Delete(tools);
	return COG_OK;
}

int mcp_tools_check_structured(cog_mcp *m, const char *tool, const cJSON *result)
{
	bool known = false;
	char *schema_text = output_schema_of(m, tool, &known);
	if (!known) {
		bool listed;
		pthread_mutex_lock(&m->tools_lock);
		listed = m->tools != NULL;
		pthread_mutex_unlock(&m->tools_lock);
		if (listed)
			return COG_OK;   /* listed without it: nothing to check */
		/* Never listed: list once to learn the tool's outputSchema. */
		int rc = list_once(m);
		if (rc != COG_OK)
			return cog__error_wrap(rc, "listing the tools to check the result");
		schema_text = output_schema_of(m, tool, &known);
	}
	if (!schema_text)
		return COG_OK;
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(result, "structuredContent");
	if (!sc || cJSON_IsNull(sc)) {
		cog_free(schema_text);
		return cog__error(COG_ESCHEMA, "tool \"%s\" has an outputSchema but "
			"its result has no structuredContent", tool);
	}
	schema_ref *ref = NULL;
	int rc = schema_get(m, tool, schema_text, &ref);
	cog_free(schema_text);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "tool \"%s\": its outputSchema", tool);
	char *sc_text = cog_json_print(sc);
	if (!sc_text) {
		ref_release(ref);
		return cog__oom("structuredContent");
	}
	rc = cog_schema_validate(ref->schema, sc_text, NULL);
	cog_free(sc_text);
	ref_release(ref);
	if (rc == COG_ESCHEMA)
		return cog__error_wrap(COG_ESCHEMA, "tool \"%s\": structuredContent does "
			"not match its outputSchema", tool);
	if (rc != COG_OK)
		return cog__error_wrap(rc, "tool \"%s\": structuredContent", tool);
	return COG_OK;
}
