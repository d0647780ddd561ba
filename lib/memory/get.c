/*
 * Reading and forgetting single memories: get, forget, purge, and the JSON
 * shape of a memory (shared with search). Working ids (>= MEM_WORK_ID_BASE)
 * are the handle's RAM; every other id is a storage record, looked up with
 * the handle's own namespace in the query (never an ancestor's).
 */
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
#include "memory_int.h"

/* The members common to both kinds of memory, in the order of memory.h. */
static cJSON *memory_json(uint64_t id, const char *ns, unsigned int layer,
                          const char *text, const char *metadata, double importance,
                          int64_t created_at, int64_t updated_at, int64_t expires_at,
                          const char *embed_model, size_t dim)
{
	cog__json_init();
	cJSON *o = cJSON_CreateObject();
	const char *layer_name = mem_layer_name(layer);
	bool ok = o &&
		cJSON_AddNumberToObject(o, "id", (double)id) &&
		cJSON_AddStringToObject(o, "namespace", ns ? ns : "") &&
		cJSON_AddStringToObject(o, "layer", layer_name ? layer_name : "unknown") &&
		(!text || cJSON_AddStringToObject(o, "text", text));
	if (ok) {
		/* stored metadata is a JSON object already (checked on the way
		 * in): printed as it is, not parsed */
		cJSON *raw = cJSON_CreateRaw(metadata && *metadata ? metadata : "{}");
		ok = raw && cJSON_AddItemToObject(o, "metadata", raw);
		if (raw && !ok)
			cJSON_Delete(raw);
	}
	ok = ok &&
		cJSON_AddNumberToObject(o, "importance", importance) &&
		cJSON_AddNumberToObject(o, "created_at", (double)created_at) &&
		cJSON_AddNumberToObject(o, "updated_at", (double)updated_at) &&
		(expires_at ? cJSON_AddNumberToObject(o, "expires_at", (double)expires_at) != NULL
		            : cJSON_AddNullToObject(o, "expires_at") != NULL) &&
		cJSON_AddStringToObject(o, "embed_model", embed_model ? embed_model : "") &&
		cJSON_AddNumberToObject(o, "dim", (double)dim);
	if (!ok) {
		cJSON_Delete(o);
		cog__oom("memory: JSON");
		return NULL;
	}
	return o;
}

cJSON *mem_record_json(const cog_storage_memory_record *rec, bool with_text)
{
	return memory_json(rec->id, rec->ns, rec->layer, with_text ? rec->text : NULL,
		rec->metadata, rec->importance, rec->created_at, rec->updated_at,
		rec->expires_at, rec->embed_model, rec->dim);
}

cJSON *mem_work_json(const cog_memory *m, const mem_work_item *it, bool with_text)
{
	bool vec = it->vec && m->emb.decided;
	return memory_json(it->id, m->ns, COG_MEMORY_WORKING, with_text ? it->text : NULL,
		it->metadata, it->importance, it->created_at, it->created_at, 0,
		vec ? m->emb.model : "", vec ? m->emb.dim : 0);
}

static bool is_working_id(uint64_t id)
{
	return id >= MEM_WORK_ID_BASE && id <= MEM_ID_MAX;
}

typedef struct get_state {
	cJSON *json;
	int rc;
} get_state;

static int get_one(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	get_state *st = user_data;
	st->json = mem_record_json(rec, true);
	st->rc = st->json ? COG_OK : COG_ENOMEM;
	return COG_STORAGE_STOP;
}

int cog_memory_get(cog_memory *m, uint64_t id, char **json)
{
	static const char fn[] = "cog_memory_get";
	COG_CHECK_ARG(json, fn, "json is NULL");
	*json = NULL;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_READ, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	cJSON *o = NULL;
	if (is_working_id(id)) {
		const mem_work_item *it = mem_work_find(&m->working, id);
		if (!it)
			return cog__error(COG_ENOTFOUND,
				"%s: no memory %llu in the working memory of \"%s\"",
				fn, (unsigned long long)id, m->ns);
		o = mem_work_json(m, it, true);
		if (!o)
			return cog__error_wrap(COG_ENOMEM, "%s", fn);
	} else {
		if (id == 0 || id > MEM_ID_MAX)
			return cog__error(COG_ENOTFOUND, "%s: no memory %llu (ids are 1..2^53-1)",
				fn, (unsigned long long)id);
		const char *ns[1] = { m->ns };
		cog_storage_memory_query q = { 0 };
		q.ns = ns;
		q.ns_count = 1;
		q.ids = &id;
		q.id_count = 1;
		q.with_embedding = 1; /* some backends fill dim only with the vector */
		get_state st = { NULL, COG_ENOTFOUND };
		int rc = cog_storage_memory_find(m->store, &q, get_one, &st);
		if (rc < 0) {
			cJSON_Delete(st.json);
			return cog__error_wrap(rc, "%s", fn);
		}
		if (st.rc == COG_ENOTFOUND)
			return cog__error(COG_ENOTFOUND,
				"%s: no memory %llu in namespace \"%s\" (absent, forgotten or expired)",
				fn, (unsigned long long)id, m->ns);
		if (st.rc)
			return cog__error_wrap(st.rc, "%s", fn);
		o = st.json;
	}
	*json = cog_json_print(o);
	cJSON_Delete(o);
	return *json ? COG_OK : cog__error_wrap(COG_ENOMEM, "%s", fn);
}

int cog_memory_forget(cog_memory *m, uint64_t id)
{
	static const char fn[] = "cog_memory_forget";
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_WRITE, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	if (is_working_id(id)) {
		if (mem_work_remove(&m->working, id))
			return cog__error(COG_ENOTFOUND,
				"%s: no memory %llu in the working memory of \"%s\"",
				fn, (unsigned long long)id, m->ns);
		return COG_OK;
	}
	if (id == 0 || id > MEM_ID_MAX)
		return cog__error(COG_ENOTFOUND, "%s: no memory %llu (ids are 1..2^53-1)",
			fn, (unsigned long long)id);
	const char *ns[1] = { m->ns };
	cog_storage_memory_query q = { 0 };
	q.ns = ns;
	q.ns_count = 1;
	q.ids = &id;
	q.id_count = 1;
	size_t deleted = 0;
	int rc = cog_storage_memory_delete(m->store, &q, &deleted);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (m->index)
		mem_index_kill(m, id);
	if (!deleted)
		return cog__error(COG_ENOTFOUND,
			"%s: no memory %llu in namespace \"%s\" (absent, forgotten or expired)",
			fn, (unsigned long long)id, m->ns);
	return COG_OK;
}

int cog_memory_purge(cog_memory *m, size_t *purged)
{
	static const char fn[] = "cog_memory_purge";
	if (purged)
		*purged = 0;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	/* The purge reaches every namespace of the storage, not the handle's
	 * alone: with a principal it takes an admin role. */
	int rc = mem_auth_check(m, fn, COG_AUTH_ADMIN, NULL);
	if (rc)
		return rc;
	size_t n = 0;
	rc = cog_storage_purge_expired(m->store, &n);
	if (rc)
		return cog__error_wrap(rc, "%s", fn);
	if (purged)
		*purged = n;
	return COG_OK;
}
