/*
 * The vector index of a handle: the rows of its namespace chain in one
 * exact SIMD store (vector.h), each with its namespace slot and layer, a
 * bitmap of forgotten rows, an id → row map (open addressing) and, for the
 * handle's own namespace, what finds near duplicates: hashing-embedder
 * rows by their word multiset and the multisets one word shorter (exact:
 * below dedupe_hash.c's "far" bound no other duplicate can pass
 * put_merge.c's word check), the other rows and the long texts in LSH
 * buckets (dedupe.c).
 * Rows are only appended: forgetting switches a row off, and a memory that
 * comes back with a new vector gets a new row. index_sync.c fills it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"

static uint64_t id_hash(uint64_t id)
{
	id ^= id >> 33;
	id *= UINT64_C(0xff51afd7ed558ccd);
	id ^= id >> 33;
	return id;
}

int ix_layer_index(unsigned int layer)
{
	switch (layer) {
	case COG_MEMORY_WORKING: return 0;
	case COG_MEMORY_SHORT_TERM: return 1;
	case COG_MEMORY_LONG_TERM: return 2;
	case COG_MEMORY_EPISODIC: return 3;
	default: return -1;
	}
}

int ix_new(struct cog_memory *m, mem_index **out)
{
	static const char fn[] = "memory index";
	*out = NULL;
	mem_index_impl *x = cog__calloc(1, sizeof(*x));
	if (!x)
		return cog__oom(fn);
	int rc = mem_vec_store_new(&x->pub.vs, m->emb.dim);
	if (!rc)
		rc = mem_lsh_new(&x->pub.lsh, m->emb.dim);
	if (rc) {
		mem_index_free(&x->pub);
		return rc;
	}
	memcpy(x->model, m->emb.model, sizeof(x->model));
	size_t far;
	mem_words_bounds(m->opt.dedupe_threshold, &x->del_min, &far);
	x->lsh_min = far < MEM_WORDS_DEL_MAX - 1 ? far : MEM_WORDS_DEL_MAX - 1;
	*out = &x->pub;
	return COG_OK;
}

void mem_index_free(mem_index *ix)
{
	if (!ix)
		return;
	mem_index_impl *x = ix_impl(ix);
	mem_vec_store_free(ix->vs);
	mem_lsh_free(ix->lsh);
	cog_free(ix->row_slot);
	cog_free(ix->row_layer);
	cog_free(ix->dead);
	cog_free(ix->map_ids);
	cog_free(ix->map_rows);
	mem_word_map_dispose(&x->words);
	mem_word_map_dispose(&x->dels);
	cog_free(x->allow);
	cog_free(x);
}

bool ix_model_hashed(const char *model)
{
	return model && strncmp(model, "hash-", 5) == 0;
}

bool ix_stale(const struct cog_memory *m, const mem_index *ix)
{
	const mem_index_impl *x = (const mem_index_impl *)ix;
	return !m->emb.decided || ix->vs->dim != m->emb.dim ||
	       strcmp(x->model, m->emb.model) != 0;
}

/* ---- id → row ---- */

/* The map slot holding id, or the empty slot where it would go. */
static size_t map_slot(const mem_index *ix, uint64_t id)
{
	size_t mask = ix->map_cap - 1, i = (size_t)id_hash(id) & mask;
	while (ix->map_ids[i] && ix->map_ids[i] != id)
		i = (i + 1) & mask;
	return i;
}

static bool map_get(const mem_index *ix, uint64_t id, uint32_t *row)
{
	if (!ix->map_cap)
		return false;
	size_t i = map_slot(ix, id);
	if (!ix->map_ids[i])
		return false;
	*row = ix->map_rows[i];
	return true;
}

bool ix_has(const mem_index *ix, uint64_t id)
{
	uint32_t row;
	return map_get(ix, id, &row);
}

/* Room for `entries` ids at half load at most. */
static int map_reserve(mem_index *ix, size_t entries)
{
	if (2 * entries <= ix->map_cap)
		return COG_OK;
	size_t cap = ix->map_cap ? ix->map_cap * 2 : 256;
	while (2 * entries > cap)
		cap *= 2;
	mem_index n = { 0 };
	n.map_ids = cog__calloc(cap, sizeof(uint64_t));
	n.map_rows = cog__calloc(cap, sizeof(uint32_t));
	n.map_cap = cap;
	if (!n.map_ids || !n.map_rows) {
		cog_free(n.map_ids);
		cog_free(n.map_rows);
		return cog__oom("memory index: grow the id map");
	}
	for (size_t i = 0; i < ix->map_cap; i++) {
		if (!ix->map_ids[i])
			continue;
		size_t j = map_slot(&n, ix->map_ids[i]);
		n.map_ids[j] = ix->map_ids[i];
		n.map_rows[j] = ix->map_rows[i];
	}
	cog_free(ix->map_ids);
	cog_free(ix->map_rows);
	ix->map_ids = n.map_ids;
	ix->map_rows = n.map_rows;
	ix->map_cap = cap;
	return COG_OK;
}

/* ---- rows ---- */

static int rows_reserve(mem_index *ix, size_t rows)
{
	if (rows <= ix->row_cap)
		return COG_OK;
	size_t cap = ix->row_cap ? ix->row_cap * 2 : 256;
	while (cap < rows)
		cap *= 2;
	uint8_t *slot = cog_realloc(ix->row_slot, cap);
	if (slot)
		ix->row_slot = slot;
	uint8_t *layer = slot ? cog_realloc(ix->row_layer, cap) : NULL;
	if (layer)
		ix->row_layer = layer;
	uint8_t *dead = layer ? cog_realloc(ix->dead, cap / 8) : NULL;
	if (!dead)
		return cog__oom("memory index: grow the rows");
	memset(dead + ix->row_cap / 8, 0, (cap - ix->row_cap) / 8);
	ix->dead = dead;
	ix->row_cap = cap;
	return COG_OK;
}

bool ix_row_dead(const mem_index *ix, size_t row)
{
	return (ix->dead[row / 8] >> (row % 8)) & 1;
}

static void row_kill(mem_index *ix, uint32_t row)
{
	if (ix_row_dead(ix, row))
		return;
	mem_index_impl *x = ix_impl(ix);
	ix->dead[row / 8] |= (uint8_t)(1u << (row % 8));
	x->live[ix->row_slot[row]][ix_layer_index(ix->row_layer[row])]--;
	x->dead_count++;
}

int ix_append(mem_index *ix, uint64_t id, unsigned int slot, unsigned int layer,
              const float *vec, const mem_words_key *words)
{
	int li = ix_layer_index(layer);
	if (li < 0 || slot >= MEM_SEGMENTS_MAX || id == 0 || id > MEM_ID_MAX)
		return cog__error(COG_EINVAL,
			"memory index: id %llu: bad slot %u or layer 0x%x",
			(unsigned long long)id, slot, layer);
	size_t row = ix->vs->count;
	if (row >= UINT32_MAX - 1)
		return cog__error(COG_ERANGE, "memory index: more than %u rows",
		                  (unsigned int)(UINT32_MAX - 2));
	int rc = rows_reserve(ix, row + 1);
	if (!rc)
		rc = map_reserve(ix, row + 1);
	if (!rc)
		rc = mem_vec_store_add(ix->vs, id, vec, ix->vs->dim);
	if (rc)
		return rc;
	size_t i = map_slot(ix, id);
	if (ix->map_ids[i])
		row_kill(ix, ix->map_rows[i]);
	ix->map_ids[i] = id;
	ix->map_rows[i] = (uint32_t)row;
	ix->row_slot[row] = (uint8_t)slot;
	ix->row_layer[row] = (uint8_t)layer;
	ix_impl(ix)->live[slot][li]++;
	if (slot != 0)
		return COG_OK;
	mem_index_impl *x = ix_impl(ix);
	if (words && !words->key)
		words = NULL;
	if (words && (rc = mem_word_map_add(&x->words, words->key, (uint32_t)row)))
		return rc;
	if (words && words->count >= x->del_min && words->count <= x->lsh_min + 1)
		for (size_t d = 0; d < words->ndel; d++)
			if ((rc = mem_word_map_add(&x->dels, words->del[d], (uint32_t)row)))
				return rc;
	if (words && words->count < x->lsh_min)
		return COG_OK;   /* its duplicates are found by multiset (dedupe_hash.c) */
	if (!words)
		x->lsh_plain++;
	/* the store kept the vector at unit length */
	return mem_lsh_add(ix->lsh, (uint32_t)row, ix->vs->rows + row * ix->vs->dim);
}

/* ---- the contract of memory_int.h ---- */

int ix_ensure(struct cog_memory *m)
{
	if (m->index && !ix_stale(m, m->index))
		return COG_OK;
	return mem_index_sync(m);
}

int mem_index_add(struct cog_memory *m, uint64_t id, unsigned int slot,
                  unsigned int layer, const float *unit_vec,
                  const mem_words_key *words)
{
	if (!m || !unit_vec)
		return cog__error(COG_EINVAL, "memory index: add: %s is NULL",
		                  m ? "vector" : "handle");
	if (slot >= m->chain_len)
		return cog__error(COG_EINVAL, "memory index: add: slot %u, the chain has %zu",
		                  slot, m->chain_len);
	if (m->index && ix_stale(m, m->index)) {
		/* The embedder changed: the next sync rebuilds, this row included. */
		mem_index_free(m->index);
		m->index = NULL;
	}
	if (!m->index) {
		int rc = mem_index_sync(m);
		if (rc || ix_has(m->index, id))
			return rc;   /* the sync loaded it from storage */
	}
	return ix_append(m->index, id, slot, layer, unit_vec, words);
}

void mem_index_kill(struct cog_memory *m, uint64_t id)
{
	uint32_t row;
	if (m && m->index && map_get(m->index, id, &row))
		row_kill(m->index, row);
}

/* Row r as a duplicate candidate: its cosine if better than *best. */
static void consider(const mem_index *ix, uint32_t r, const float *unit_vec, float inv,
                     unsigned int layer, double threshold, float *best, uint64_t *best_id)
{
	size_t dim = ix->vs->dim;
	if (r >= ix->vs->count || ix_row_dead(ix, r) || ix->row_slot[r] != 0 ||
	    ix->row_layer[r] != layer)
		return;
	float c = cog__vec_dot(ix->vs->rows + (size_t)r * dim, unit_vec, dim) * inv;
	uint64_t rid = ix->vs->ids[r];
	if (c >= threshold && (!*best_id || c > *best || (c == *best && rid < *best_id))) {
		*best = c;
		*best_id = rid;
	}
}

int mem_index_near_duplicate(struct cog_memory *m, const float *unit_vec,
                             unsigned int layer, double threshold,
                             const mem_words_key *words,
                             uint64_t *id, float *cosine)
{
	if (!id || !cosine || !m || !unit_vec)
		return cog__error(COG_EINVAL, "memory index: near duplicate: an argument is NULL");
	*id = 0;
	*cosine = 0;
	if (isnan(threshold) || threshold > 1)
		return COG_OK;   /* never merge */
	int rc = ix_ensure(m);
	if (rc)
		return rc;
	mem_index *ix = m->index;
	mem_index_impl *x = ix_impl(ix);
	size_t dim = ix->vs->dim;
	double norm = 0;
	for (size_t i = 0; i < dim; i++)
		norm += (double)unit_vec[i] * unit_vec[i];
	if (!(norm > 0) || !isfinite(norm))
		return cog__error(COG_EINVAL,
			"memory index: near duplicate: the vector is zero or not finite");
	float inv = (float)(1.0 / sqrt(norm)), best = 0;
	uint64_t best_id = 0;
	uint32_t r;
	size_t pos = SIZE_MAX;
	while (words && mem_word_map_next(&x->words, words->key, &pos, &r))
		consider(ix, r, unit_vec, inv, layer, threshold, &best, &best_id);
	if (words && words->count >= x->del_min && words->count <= x->lsh_min + 1) {
		/* one word more, one word less */
		for (pos = SIZE_MAX; mem_word_map_next(&x->dels, words->key, &pos, &r);)
			consider(ix, r, unit_vec, inv, layer, threshold, &best, &best_id);
		for (size_t i = 0; i < words->ndel; i++)
			for (pos = SIZE_MAX; mem_word_map_next(&x->words, words->del[i], &pos, &r);)
				consider(ix, r, unit_vec, inv, layer, threshold, &best, &best_id);
	}
	/* A hashing text of fewer words than lsh_min has no duplicate but
	 * those (dedupe_hash.c), unless the LSH also holds rows without words. */
	if (!words || !words->hashed || words->count >= x->lsh_min || x->lsh_plain) {
		const uint32_t *rows = NULL;
		size_t n = 0;
		if ((rc = mem_lsh_query(ix->lsh, unit_vec, &rows, &n)))
			return rc;
		for (size_t i = 0; i < n; i++)
			consider(ix, rows[i], unit_vec, inv, layer, threshold, &best, &best_id);
	}
	*id = best_id;
	*cosine = best_id ? best : 0;
	return COG_OK;
}
