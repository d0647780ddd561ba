/*
 * The answer of cog_memory_search: the final k as the JSON of
 * cog_memory_get() (working items from RAM, stored ones from the copies the
 * lists kept, or, too large to keep, read again in one storage query by
 * ids) with their score and signals, and the embedder.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

static const char fn[] = "cog_memory_search";

static int by_top_id(const void *pa, const void *pb)
{
	const mem_search_top *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int on_final_record(const cog_storage_memory_record *rec, double score, void *user_data)
{
	(void)score;
	mem_search_run *r = user_data;
	mem_search_top key = { rec->id, 0 };
	const mem_search_top *t = bsearch(&key, r->top, r->ntop, sizeof(*t), by_top_id);
	if (!t || r->records[t->pos])
		return 0;
	cog_storage_memory_record full = mem_search_with_dim(r, rec);
	r->records[t->pos] = mem_record_json(&full, true);
	return r->records[t->pos] ? 0 : cog__oom("cog_memory_search: result");
}

/* The JSON of the first n candidates: working ones from RAM, stored ones
 * from their copies, or (too large to copy) one storage query by ids. */
static int fetch_final(mem_search_run *r, size_t n)
{
	r->records = cog__calloc(n ? n : 1, sizeof(*r->records));
	r->top = cog__calloc(n ? n : 1, sizeof(*r->top));
	uint64_t *ids = cog__calloc(n ? n : 1, sizeof(*ids));
	int rc = COG_OK;
	if (!r->records || !r->top || !ids) {
		rc = cog__oom("cog_memory_search: results");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const mem_candidate *c = &r->set.c[i];
		if (c->id >= MEM_WORK_ID_BASE) {
			const mem_work_item *it = mem_work_find(&r->m->working, c->id);
			r->records[i] = it ? mem_work_json(r->m, it, true) : NULL;
			if (it && !r->records[i]) {
				rc = cog__oom("cog_memory_search: result");
				goto done;
			}
			continue;
		}
		rc = mem_kept_json(&r->kept, c->id, &r->records[i]);
		if (rc)
			goto done;
		if (r->records[i])
			continue;
		r->top[r->ntop].id = c->id;
		r->top[r->ntop].pos = i;
		ids[r->ntop++] = c->id;
	}
	if (!r->ntop)
		goto done;
	qsort(r->top, r->ntop, sizeof(*r->top), by_top_id);
	cog_storage_memory_query sq = mem_search_storage_query(r);
	sq.ids = ids;
	sq.id_count = r->ntop;
	rc = cog_storage_memory_find(r->m->store, &sq, on_final_record, r);
	if (rc)
		rc = cog__error_wrap(rc, "%s: reading the results", fn);
done:
	cog_free(ids);
	return rc;
}

/* Seven significant digits (a float's worth, and a cosine is one): the
 * order was decided on the exact values; the printed ones take the JSON
 * printer's short-decimal path instead of two snprintf() and a strtod(). */
static double shown(double x)
{
	if (x == 0 || !isfinite(x))
		return x;
	int e = (int)floor(log10(fabs(x)));
	if (e < -15 || e > 6)
		return x;
	double scale = pow(10.0, 6 - e);   /* exact: a power of ten up to 10^21 */
	return nearbyint(x * scale) / scale;
}

static int add_signals(cJSON *obj, const mem_candidate *c)
{
	if (cog_json_add_number(obj, "score", shown(c->score)))
		return COG_ENOMEM;
	cJSON *sig = cJSON_AddObjectToObject(obj, "signals");
	if (!sig)
		return COG_ENOMEM;
	if (c->keyword_rank > 0) {
		cJSON *kw = cJSON_AddObjectToObject(sig, "keyword");
		if (!kw || cog_json_add_number(kw, "rank", c->keyword_rank) ||
		    cog_json_add_number(kw, "bm25", shown(c->bm25)))
			return COG_ENOMEM;
	}
	if (c->vector_rank > 0) {
		cJSON *vec = cJSON_AddObjectToObject(sig, "vector");
		if (!vec || cog_json_add_number(vec, "rank", c->vector_rank) ||
		    cog_json_add_number(vec, "cosine", shown(c->cosine)))
			return COG_ENOMEM;
	}
	if (cog_json_add_number(sig, "recency", shown(c->recency)) ||
	    cog_json_add_number(sig, "importance", c->importance))
		return COG_ENOMEM;
	return COG_OK;
}

static int render(mem_search_run *r, size_t n, char **out)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *results = root ? cJSON_AddArrayToObject(root, "results") : NULL;
	int rc = results ? COG_OK : COG_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		cJSON *obj = r->records[i];
		if (!obj)
			continue;   /* forgotten between the lists and now */
		r->records[i] = NULL;
		if (!cJSON_AddItemToArray(results, obj)) {
			cJSON_Delete(obj);
			rc = COG_ENOMEM;
			break;
		}
		rc = add_signals(obj, &r->set.c[i]);
	}
	if (!rc) {
		const mem_embedder *e = &r->m->emb;
		cJSON *emb = e->decided ? cJSON_AddStringToObject(root, "embedder", e->model)
		                        : cJSON_AddNullToObject(root, "embedder");
		rc = emb ? COG_OK : COG_ENOMEM;
	}
	if (!rc) {
		*out = cog_json_print(root);
		rc = *out ? COG_OK : COG_ENOMEM;
	}
	cJSON_Delete(root);
	return rc ? cog__oom("cog_memory_search: result") : COG_OK;
}

int mem_search_result(mem_search_run *r, size_t n, char **result_json)
{
	int rc = fetch_final(r, n);
	return rc ? rc : render(r, n, result_json);
}
