/*
 * Copies of the candidates' records, taken while the lists read them, so the
 * final k need no second storage query: one query less per search (on SQLite
 * that query cost more than everything else the search does). Records are
 * copied flat (strings into one arena), never parsed; only the final k
 * become JSON. Large records are not copied (the arena stays small whatever
 * the texts): those few are read again by id at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

#define KEEP_RECORD_MAX (64u * 1024)       /* text + metadata of one copy */
#define KEEP_ARENA_MAX (8u * 1024 * 1024)  /* all copies of one search */

typedef struct mem_kept_rec {
	uint64_t id;
	size_t ns, text, metadata, model;   /* offsets into the arena */
	size_t text_len, metadata_len;
	unsigned int layer;
	uint32_t dim;
	double importance;
	int64_t created_at, updated_at, expires_at;
} mem_kept_rec;

static size_t put_str(cog_buf *b, const char *s, size_t len)
{
	size_t at = b->len;
	cog_buf_put(b, s ? s : "", s ? len : 0);
	cog_buf_putc(b, '\0');
	return at;
}

int mem_kept_add(mem_kept *k, const cog_storage_memory_record *rec)
{
	size_t ns_len = strlen(rec->ns);
	size_t model_len = rec->embed_model ? strlen(rec->embed_model) : 0;
	size_t need = ns_len + rec->text_len + rec->metadata_len + model_len + 4;
	if (rec->text_len + rec->metadata_len > KEEP_RECORD_MAX ||
	    k->arena.len + need > KEEP_ARENA_MAX)
		return COG_OK;   /* read again at the end if it makes the final k */
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		mem_kept_rec *recs = cog_realloc(k->recs, cap * sizeof(*recs));
		if (!recs)
			return cog__oom("cog_memory_search: records");
		k->recs = recs;
		k->cap = cap;
	}
	if (cog_buf_reserve(&k->arena, need))
		return cog__oom("cog_memory_search: records");
	mem_kept_rec *r = &k->recs[k->n++];
	r->id = rec->id;
	r->ns = put_str(&k->arena, rec->ns, ns_len);
	r->text = put_str(&k->arena, rec->text, rec->text_len);
	r->metadata = put_str(&k->arena, rec->metadata, rec->metadata_len);
	r->model = put_str(&k->arena, rec->embed_model, model_len);
	r->text_len = rec->text_len;
	r->metadata_len = rec->metadata_len;
	r->layer = rec->layer;
	r->dim = rec->dim;
	r->importance = rec->importance;
	r->created_at = rec->created_at;
	r->updated_at = rec->updated_at;
	r->expires_at = rec->expires_at;
	k->sorted = false;
	return COG_OK;
}

static int by_id(const void *pa, const void *pb)
{
	const mem_kept_rec *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

int mem_kept_json(mem_kept *k, uint64_t id, cJSON **out)
{
	*out = NULL;
	if (!k->n)
		return COG_OK;
	if (!k->sorted) {
		qsort(k->recs, k->n, sizeof(*k->recs), by_id);
		k->sorted = true;
	}
	mem_kept_rec key = { .id = id };
	const mem_kept_rec *r = bsearch(&key, k->recs, k->n, sizeof(*r), by_id);
	if (!r)
		return COG_OK;
	const char *a = k->arena.ptr;
	cog_storage_memory_record rec = {
		.id = r->id, .ns = a + r->ns, .layer = r->layer,
		.text = a + r->text, .text_len = r->text_len,
		.metadata = a + r->metadata, .metadata_len = r->metadata_len,
		.importance = r->importance, .created_at = r->created_at,
		.updated_at = r->updated_at, .expires_at = r->expires_at,
		.embed_model = a + r->model, .embedding = NULL, .dim = r->dim,
	};
	*out = mem_record_json(&rec, true);
	return *out ? COG_OK : cog__oom("cog_memory_search: result");
}

void mem_kept_dispose(mem_kept *k)
{
	cog_free(k->recs);
	cog_buf_dispose(&k->arena);
	memset(k, 0, sizeof(*k));
}
