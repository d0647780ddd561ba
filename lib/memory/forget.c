/*
 * cog_memory_forget_where: forget what matches a filter, in the handle's own
 * namespace only (never an ancestor's): stored memories through one storage
 * delete, working memories in RAM.
 *
 * The vector index: when it is loaded, the ids that will go are read first
 * (the same query) and their rows switched off after the delete; when it is
 * not loaded there is nothing to do (the next sync reads storage as it is).
 */
#include <math.h>
#include <string.h>

#include "auth_int.h"
#include "mem_auth.h"
#include "memory_int.h"

static const char fn[] = "cog_memory_forget_where";

typedef struct filter {
	unsigned int layers;
	int64_t since, until;
	const cJSON *metadata;   /* NULL or an object of scalars */
	char *metadata_text;     /* its compact text, for the storage query */
} filter;

static int time_member(const cJSON *root, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
	*out = 0;
	if (!v)
		return COG_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740991.0 ||
	    v->valuedouble != floor(v->valuedouble))
		return cog__error(COG_EINVAL,
			"%s: \"%s\" must be a time in Unix milliseconds (an integer >= 0)", fn, name);
	*out = (int64_t)v->valuedouble;
	return COG_OK;
}

static int parse_filter(const cJSON *root, filter *f)
{
	static const char *const known[] = { "metadata", "layers", "since", "until", "all" };
	if (!cJSON_IsObject(root))
		return cog__error(COG_EINVAL, "%s: filter must be a JSON object", fn);
	if (!root->child)
		return cog__error(COG_EINVAL,
			"%s: the filter is empty; say {\"all\":true} to forget the whole namespace", fn);
	for (const cJSON *c = root->child; c; c = c->next) {
		size_t i = 0;
		while (i < COG_ARRAY_LEN(known) && strcmp(known[i], c->string) != 0)
			i++;
		if (i == COG_ARRAY_LEN(known))
			return cog__error(COG_EINVAL,
				"%s: unknown member \"%.64s\" in the filter (known: metadata, layers, "
				"since, until, all)", fn, c->string);
	}
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(root, "all");
	if (all && !cJSON_IsTrue(all))
		return cog__error(COG_EINVAL,
			"%s: \"all\" may only be true (leave it out to filter)", fn);
	int rc = mem_layers_from_json(cJSON_GetObjectItemCaseSensitive(root, "layers"), fn,
		&f->layers);
	if (!rc)
		rc = time_member(root, "since", &f->since);
	if (!rc)
		rc = time_member(root, "until", &f->until);
	if (rc)
		return rc;
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (md) {
		if (!cJSON_IsObject(md))
			return cog__error(COG_EINVAL, "%s: \"metadata\" must be an object", fn);
		for (const cJSON *c = md->child; c; c = c->next)
			if (cJSON_IsObject(c) || cJSON_IsArray(c))
				return cog__error(COG_EINVAL,
					"%s: metadata member \"%.64s\" must be a string, number, boolean "
					"or null", fn, c->string);
		if (md->child) {
			f->metadata = md;
			f->metadata_text = cog_json_print(md);
			if (!f->metadata_text)
				return cog__error_wrap(COG_ENOMEM, "%s", fn);
		}
	}
	/* {"metadata":{}} alone would select everything without saying so */
	if (!all && !f->metadata && !cJSON_GetObjectItemCaseSensitive(root, "layers") &&
	    !cJSON_GetObjectItemCaseSensitive(root, "since") &&
	    !cJSON_GetObjectItemCaseSensitive(root, "until"))
		return cog__error(COG_EINVAL,
			"%s: the filter selects everything; say {\"all\":true} to forget the whole "
			"namespace", fn);
	return COG_OK;
}

/* ---- working memory ---- */

static bool scalar_equal(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNull(a))
		return !b || cJSON_IsNull(b);  /* null also matches an absent member */
	if (!b)
		return false;
	if (cJSON_IsBool(a))
		return cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
	if (cJSON_IsNumber(a))
		return cJSON_IsNumber(b) && a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a))
		return cJSON_IsString(b) && strcmp(a->valuestring, b->valuestring) == 0;
	return false;
}

static int work_matches(const filter *f, const mem_work_item *it, bool *match)
{
	*match = false;
	if ((f->since && it->created_at < f->since) || (f->until && it->created_at >= f->until))
		return COG_OK;
	if (!f->metadata) {
		*match = true;
		return COG_OK;
	}
	cJSON *md = cJSON_Parse(it->metadata);
	if (!md)
		return cog__oom(fn); /* the text was checked when it came in */
	bool ok = true;
	for (const cJSON *want = f->metadata->child; want && ok; want = want->next)
		ok = scalar_equal(want, cJSON_GetObjectItemCaseSensitive(md, want->string));
	cJSON_Delete(md);
	*match = ok;
	return COG_OK;
}

static int forget_working(cog_memory *m, const filter *f, size_t *count)
{
	mem_working *w = &m->working;
	size_t kept = 0, removed_tokens = 0;
	int rc = COG_OK;
	for (size_t i = 0; i < w->count; i++) {
		bool match = false;
		if (!rc)
			rc = work_matches(f, &w->items[i], &match);
		if (match) {
			removed_tokens += w->items[i].tokens;
			cog_free(w->items[i].text);
			cog_free(w->items[i].metadata);
			cog_free(w->items[i].vec);
			(*count)++;
		} else {
			w->items[kept++] = w->items[i];
		}
	}
	w->count = kept;
	w->tokens -= removed_tokens;
	return rc;
}

/* ---- storage ---- */

typedef struct id_list {
	uint64_t *ids;
	size_t count, cap;
} id_list;

static int collect_id(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	id_list *l = user_data;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *ids = cog_realloc(l->ids, cap * sizeof(*ids));
		if (!ids)
			return cog__oom(fn);
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->count++] = rec->id;
	return 0;
}

static int forget_stored(cog_memory *m, const filter *f, size_t *count)
{
	const char *ns[1] = { m->ns };
	cog_storage_memory_query q = { 0 };
	q.ns = ns;
	q.ns_count = 1;
	/* every stored layer spelled out: "all" is then a query with layers */
	q.layers = f->layers & ~COG_MEMORY_WORKING;
	q.since = f->since;
	q.until = f->until;
	q.filter = f->metadata_text;
	id_list found = { NULL, 0, 0 };
	int rc = COG_OK;
	if (m->index)
		rc = cog_storage_memory_find(m->store, &q, collect_id, &found);
	size_t deleted = 0;
	if (rc >= 0)
		rc = cog_storage_memory_delete(m->store, &q, &deleted);
	if (rc >= 0) {
		rc = COG_OK;
		*count += deleted;
		for (size_t i = 0; i < found.count && m->index; i++)
			mem_index_kill(m, found.ids[i]);
	}
	cog_free(found.ids);
	return rc;
}

int cog_memory_forget_where(cog_memory *m, const char *filter_json, size_t *count)
{
	if (count)
		*count = 0;
	COG_CHECK_ARG(m, fn, "mem is NULL");
	{
		int auth_rc = mem_auth_check(m, fn, COG_AUTH_MEMORY_WRITE, m->ns);
		if (auth_rc)
			return auth_rc;
	}
	COG_CHECK_ARG(filter_json, fn, "filter_json is NULL");
	cJSON *root = NULL;
	int rc = cog_json_parse(&root, filter_json, "cog_memory_forget_where: filter");
	if (rc)
		return rc;
	filter f = { 0 };
	rc = parse_filter(root, &f);
	size_t n = 0;
	if (!rc && (f.layers & ~COG_MEMORY_WORKING)) {
		rc = forget_stored(m, &f, &n);
		if (rc)
			cog__error_wrap(rc, "%s", fn);
	}
	if (!rc && (f.layers & COG_MEMORY_WORKING))
		rc = forget_working(m, &f, &n);
	cog_free(f.metadata_text);
	cJSON_Delete(root);
	if (count)
		*count = n;
	return rc;
}
