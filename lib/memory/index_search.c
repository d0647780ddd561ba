/*
 * Searching the index (index.c keeps its rows): the allowed rows of a
 * search as a bitmap, and the best k of them, exact up to IX_I8_MIN_ROWS
 * rows and through int8 candidates scored exactly above.
 */
#include <stdlib.h>
#include <string.h>

#include "index_int.h"

/* The rows a search may see as a bitmap in *allow, or NULL for all of them;
 * *any false when none may. */
static int allow_rows(mem_index *ix, unsigned int slot_mask, unsigned int layers,
                      const uint8_t **allow, bool *any)
{
	mem_index_impl *x = ix_impl(ix);
	bool all = x->dead_count == 0;
	*any = false;
	for (unsigned int s = 0; s < MEM_SEGMENTS_MAX; s++)
		for (unsigned int l = 0; l < IX_LAYERS; l++) {
			bool wanted = (slot_mask >> s & 1) && (layers >> l & 1);
			if (x->live[s][l] && wanted)
				*any = true;
			else if (x->live[s][l])
				all = false;
		}
	*allow = NULL;
	if (!*any || all)
		return COG_OK;
	size_t rows = ix->vs->count, bytes = (rows + 7) / 8;
	if (bytes > x->allow_cap) {
		uint8_t *a = cog_realloc(x->allow, ix->row_cap / 8);
		if (!a)
			return cog__oom("memory index: search");
		x->allow = a;
		x->allow_cap = ix->row_cap / 8;
	}
	memset(x->allow, 0, bytes);
	for (size_t r = 0; r < rows; r++)
		if ((slot_mask >> ix->row_slot[r] & 1) && (ix->row_layer[r] & layers))
			x->allow[r / 8] |= (uint8_t)(1u << (r % 8));
	for (size_t b = 0; b < bytes; b++)
		x->allow[b] &= (uint8_t)~ix->dead[b];
	*allow = x->allow;
	return COG_OK;
}

/* Order of hits: score descending, then id ascending (as vector.h). */
static int hit_cmp(const void *a, const void *b)
{
	const mem_vec_hit *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Large indexes: the int8 rows (a quarter of the bytes) pick
 * IX_I8_FACTOR x k candidates, which are scored again exactly in float32.
 * A row only misses when its int8 rank falls past the candidates while its
 * exact score is in the top k (tests/unit/memory/test_index.c measures the
 * recall against the exact search).
 */
static int search_i8_rerank(const mem_vec_store *vs, const float *query, size_t k,
                            const uint8_t *allow, mem_vec_hit *hits, size_t *nhits)
{
	size_t dim = vs->dim, want = k * IX_I8_FACTOR;
	if (want < k + IX_I8_EXTRA)
		want = k + IX_I8_EXTRA;
	if (want > MEM_VEC_K_MAX)
		want = MEM_VEC_K_MAX;
	if (want <= k)
		return mem_vec_search(vs, query, dim, k, allow, hits, nhits);
	mem_vec_hit *cand = cog_malloc(want * sizeof(*cand));
	float *q = cog_malloc(dim * sizeof(*q));
	int rc = cand && q ? COG_OK : cog__oom("memory index: search");
	size_t n = 0;
	if (!rc)
		rc = cog__vec_normalize(query, dim, q, "query vector");
	if (!rc)
		rc = mem_vec_search_i8(vs, q, dim, want, allow, cand, &n);
	if (!rc) {
		for (size_t i = 0; i < n; i++)
			cand[i].score = cog__vec_dot(vs->rows + (size_t)cand[i].row * dim, q, dim);
		qsort(cand, n, sizeof(*cand), hit_cmp);
		*nhits = n < k ? n : k;
		memcpy(hits, cand, *nhits * sizeof(*hits));
	}
	cog_free(cand);
	cog_free(q);
	return rc;
}

int mem_index_search(struct cog_memory *m, const float *query, size_t k,
                     unsigned int slot_mask, unsigned int layers,
                     mem_vec_hit *hits, size_t *nhits)
{
	if (!nhits)
		return cog__error(COG_EINVAL, "memory index: search: nhits is NULL");
	*nhits = 0;
	if (!m || !query || !hits)
		return cog__error(COG_EINVAL, "memory index: search: %s is NULL",
		                  !m ? "handle" : !query ? "query" : "hits");
	if (k == 0 || k > MEM_VEC_K_MAX)
		return cog__error(COG_EINVAL, "memory index: search: k is %zu, expected 1..%d",
		                  k, MEM_VEC_K_MAX);
	int rc = ix_ensure(m);
	if (rc)
		return rc;
	const uint8_t *allow;
	bool any;
	if ((rc = allow_rows(m->index, slot_mask, layers, &allow, &any)) || !any)
		return rc;
	const mem_vec_store *vs = m->index->vs;
	if (vs->count < IX_I8_MIN_ROWS)
		return mem_vec_search(vs, query, vs->dim, k, allow, hits, nhits);
	return search_i8_rerank(vs, query, k, allow, hits, nhits);
}
