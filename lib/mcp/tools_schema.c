/*
 * lib/mcp/tools_schema.c: compiled outputSchemas of the servers' tools.
 * struct cog_mcp has no slot for them, so they live in one table keyed by
 * (connection, tool, schema text) that cog_mcp_close() empties
 * (mcp_tools_undefine). An entry is reference-counted: a validation still
 * running when the entry goes keeps its schema alive.
 */
#include <string.h>

#include "mcp_tools_int.h"

struct mcp_schema_ref {
	cog_mcp *m;
	char *tool;
	char *text;
	cog_schema *schema;
	atomic_int refs;              /* the table's (while listed) + users' */
	struct mcp_schema_ref *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mcp_schema_ref *cache_head;

const cog_schema *mcp_schema_ref_schema(const mcp_schema_ref *ref)
{
	return ref->schema;
}

void mcp_schema_ref_release(mcp_schema_ref *ref)
{
	if (ref && atomic_fetch_sub(&ref->refs, 1) == 1) {
		cog_schema_free(ref->schema);
		cog_free(ref->tool);
		cog_free(ref->text);
		cog_free(ref);
	}
}

int mcp_schema_cache_get(cog_mcp *m, const char *tool, const char *schema_text,
                         mcp_schema_ref **out)
{
	*out = NULL;
	pthread_mutex_lock(&cache_lock);
	for (mcp_schema_ref *r = cache_head; r; r = r->next) {
		if (r->m == m && strcmp(r->tool, tool) == 0 &&
		    strcmp(r->text, schema_text) == 0) {
			atomic_fetch_add(&r->refs, 1);
			*out = r;
			pthread_mutex_unlock(&cache_lock);
			return COG_OK;
		}
	}
	pthread_mutex_unlock(&cache_lock);

	mcp_schema_ref *ref = cog__calloc(1, sizeof(*ref));
	if (!ref)
		return cog__oom("outputSchema");
	ref->m = m;
	ref->tool = cog__strdup(tool);
	ref->text = cog__strdup(schema_text);
	atomic_init(&ref->refs, 1);
	if (!ref->tool || !ref->text) {
		mcp_schema_ref_release(ref);
		return cog__oom("outputSchema");
	}
	int rc = cog_schema_new(&ref->schema, schema_text, COG_SCHEMA_DRAFT_2020_12);
	if (rc != COG_OK) {
		mcp_schema_ref_release(ref);
		return rc;
	}
	pthread_mutex_lock(&cache_lock);
	/* Checked under cache_lock: a purge that ran before sees nothing of
	 * this entry, one that runs after finds it listed. */
	if (!mcp_tools_closing(m)) {
		atomic_fetch_add(&ref->refs, 1);
		ref->next = cache_head;
		cache_head = ref;
	}
	pthread_mutex_unlock(&cache_lock);
	*out = ref;
	return COG_OK;
}

void mcp_schema_cache_purge(cog_mcp *m)
{
	mcp_schema_ref *gone = NULL;
	pthread_mutex_lock(&cache_lock);
	mcp_schema_ref **link = &cache_head;
	while (*link) {
		mcp_schema_ref *r = *link;
		if (r->m == m) {
			*link = r->next;
			r->next = gone;
			gone = r;
		} else {
			link = &r->next;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	while (gone) {
		mcp_schema_ref *next = gone->next;
		mcp_schema_ref_release(gone);
		gone = next;
	}
}
