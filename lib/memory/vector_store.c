/*
 * The flat vector store: one contiguous row-major float32 matrix of unit
 * vectors, its int8 copy with a scale per row, and the ids. Append only.
 */
#include <stdio.h>
#include <string.h>

#include "core_int.h"
#include "vector.h"

int mem_vec_store_new(mem_vec_store **out, size_t dim)
{
	if (!out)
		return cog__error(COG_EINVAL, "vector store: out is NULL");
	*out = NULL;
	if (dim == 0 || dim > MEM_VEC_DIM_MAX)
		return cog__error(COG_EINVAL, "vector store: dimension %zu is outside 1..%d", dim,
		                  MEM_VEC_DIM_MAX);
	mem_vec_store *s = cog__calloc(1, sizeof(*s));
	if (!s)
		return cog__oom("vector store");
	s->dim = dim;
	*out = s;
	return 0;
}

void mem_vec_store_free(mem_vec_store *s)
{
	if (!s)
		return;
	cog_free(s->rows);
	cog_free(s->rows_i8);
	cog_free(s->scales);
	cog_free(s->ids);
	cog_free(s);
}

/* Grow *p to new_count elements of size bytes (contents kept). */
static int grow(void **p, size_t new_count, size_t size)
{
	if (new_count > SIZE_MAX / size)
		return cog__error(COG_EINVAL, "vector store: %zu elements of %zu bytes overflow",
		                  new_count, size);
	void *n = cog_realloc(*p, new_count * size);
	if (!n)
		return cog__oom("vector store: grow");
	*p = n;
	return 0;
}

static int reserve(mem_vec_store *s, size_t need)
{
	if (need <= s->cap)
		return 0;
	if (need > UINT32_MAX || need > SIZE_MAX / sizeof(float) / s->dim)
		return cog__error(COG_EINVAL, "vector store: %zu rows is more than a store holds",
		                  need);
	size_t cap = s->cap ? s->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	size_t d = s->dim;
	int rc = grow((void **)&s->rows, cap * d, sizeof(float));
	if (rc == 0)
		rc = grow((void **)&s->rows_i8, cap * d, 1);
	if (rc == 0)
		rc = grow((void **)&s->scales, cap, sizeof(float));
	if (rc == 0)
		rc = grow((void **)&s->ids, cap, sizeof(uint64_t));
	if (rc == 0)
		s->cap = cap;
	return rc;
}

int mem_vec_store_add(mem_vec_store *s, uint64_t id, const float *vec, size_t dim)
{
	if (!s)
		return cog__error(COG_EINVAL, "vector store add: store is NULL");
	if (!vec)
		return cog__error(COG_EINVAL, "vector store add: id %llu: vector is NULL",
		                  (unsigned long long)id);
	if (dim != s->dim)
		return cog__error(COG_EINVAL,
		                  "vector store add: id %llu: dimension %zu, the store holds %zu",
		                  (unsigned long long)id, dim, s->dim);
	int rc = reserve(s, s->count + 1);
	if (rc)
		return rc;
	float *row = s->rows + s->count * dim;
	char where[64];
	snprintf(where, sizeof(where), "vector store add: id %llu", (unsigned long long)id);
	rc = cog__vec_normalize(vec, dim, row, where);
	if (rc)
		return rc;
	cog__vec_quantize_i8(row, dim, s->rows_i8 + s->count * dim, &s->scales[s->count]);
	s->ids[s->count] = id;
	s->count++;
	return 0;
}
