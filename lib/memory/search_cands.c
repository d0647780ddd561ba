/*
 * The candidates of one search: an array (what mem_rank_fuse sorts) and an
 * id → index map (open addressing, linear probing) so the lists and the
 * working layer can find a memory another list already brought, and the
 * ranks of each list by its own score.
 */
#include <stdlib.h>
#include <string.h>

#include "search_int.h"

static size_t slot_of(uint64_t id, size_t mask)
{
	return (size_t)((id * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & mask;
}

mem_candidate *mem_cands_find(const mem_cands *s, uint64_t id)
{
	if (!s->ids)
		return NULL;
	for (size_t i = slot_of(id, s->mask);; i = (i + 1) & s->mask) {
		if (s->ids[i] == id)
			return &s->c[s->idx[i]];
		if (!s->ids[i])
			return NULL;
	}
}

static void map_put(mem_cands *s, uint64_t id, uint32_t index)
{
	size_t i = slot_of(id, s->mask);
	while (s->ids[i])
		i = (i + 1) & s->mask;
	s->ids[i] = id;
	s->idx[i] = index;
}

static int grow(mem_cands *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64;
	mem_candidate *c = cog_realloc(s->c, cap * sizeof(*c));
	if (c)
		s->c = c;
	/* the map stays at most half full */
	uint64_t *ids = c ? cog__calloc(cap * 2, sizeof(*ids)) : NULL;
	uint32_t *idx = ids ? cog__calloc(cap * 2, sizeof(*idx)) : NULL;
	if (!idx) {
		cog_free(ids);
		return cog__oom("cog_memory_search: candidates");
	}
	cog_free(s->ids);
	cog_free(s->idx);
	s->ids = ids;
	s->idx = idx;
	s->cap = cap;
	s->mask = cap * 2 - 1;
	for (size_t j = 0; j < s->n; j++)
		map_put(s, s->c[j].id, (uint32_t)j);
	return COG_OK;
}

int mem_cands_get(mem_cands *s, uint64_t id, mem_candidate **out)
{
	*out = mem_cands_find(s, id);
	if (*out)
		return COG_OK;
	if (s->n == s->cap) {
		int rc = grow(s);
		if (rc)
			return rc;
	}
	map_put(s, id, (uint32_t)s->n);
	*out = &s->c[s->n++];
	memset(*out, 0, sizeof(**out));
	(*out)->id = id;
	return COG_OK;
}

void mem_cands_dispose(mem_cands *s)
{
	cog_free(s->c);
	cog_free(s->ids);
	cog_free(s->idx);
	memset(s, 0, sizeof(*s));
}

typedef struct list_entry {
	double score;
	uint64_t id;
	mem_candidate *c;
} list_entry;

static int by_list_score(const void *pa, const void *pb)
{
	const list_entry *a = pa, *b = pb;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Ranking by the lists' own scores with ties by id is the order the storage
 * backends (BM25, ties by id) and the index (cosine, ties by id) return;
 * it is redone here because the working layer's items join both lists. */
int mem_cands_rank(mem_cands *s, bool keyword)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += (keyword ? s->c[i].keyword_rank : s->c[i].vector_rank) != 0;
	if (!n)
		return COG_OK;
	list_entry *e = cog_malloc(n * sizeof(*e));
	if (!e)
		return cog__oom("cog_memory_search: ranking");
	n = 0;
	for (size_t i = 0; i < s->n; i++) {
		mem_candidate *c = &s->c[i];
		if ((keyword ? c->keyword_rank : c->vector_rank) != 0)
			e[n++] = (list_entry){ keyword ? c->bm25 : c->cosine, c->id, c };
	}
	qsort(e, n, sizeof(*e), by_list_score);
	for (size_t i = 0; i < n; i++) {
		if (keyword)
			e[i].c->keyword_rank = (int)(i + 1);
		else
			e[i].c->vector_rank = (int)(i + 1);
	}
	cog_free(e);
	return COG_OK;
}
