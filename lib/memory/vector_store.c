/*
 * The flat vector store: one contiguous row-major float32 matrix of unit
 * vectors, its int8 copy with a scale per row, and the ids. Append only.
 */
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

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

#define HUGE_MIN ((size_t)4 << 20)   /* matrices this large ask for huge pages */

/*
 * Ask for transparent huge pages over the page-aligned inside of a large
 * matrix (a hint; contents are kept, and a failure changes nothing). Search
 * streams the whole matrix: with 4 KiB pages every page costs a TLB miss
 * (a nested walk under a hypervisor) and the hardware prefetchers stop at
 * page boundaries. Pages written after the advice come as 2 MiB pages where
 * the kernel allows it (THP "madvise" or "always").
 */
static void advise_huge(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	long ps = sysconf(_SC_PAGESIZE);
	if (bytes < HUGE_MIN || ps <= 0)
		return;
	uintptr_t page = (uintptr_t)ps;
	uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t e = ((uintptr_t)p + bytes) & ~(page - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/*
 * Grow *p (used of its elements in use) to new_count elements of size bytes.
 * A matrix of HUGE_MIN bytes or more moves to a new allocation that is
 * advised before the copy writes it, so it is backed by huge pages from the
 * start; realloc's mremap would carry the old pages along, split to 4 KiB
 * (the peak is old + new size while it copies).
 */
static int grow(void **p, size_t used, size_t new_count, size_t size, int matrix)
{
	if (new_count > SIZE_MAX / size)
		return cog__error(COG_EINVAL, "vector store: %zu elements of %zu bytes overflow",
		                  new_count, size);
	size_t bytes = new_count * size;
	void *n;
	if (matrix && bytes >= HUGE_MIN) {
		n = cog_malloc(bytes);
		if (n) {
			advise_huge(n, bytes);
			if (used)
				memcpy(n, *p, used * size);
			cog_free(*p);
		}
	} else {
		n = cog_realloc(*p, bytes);
	}
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
	size_t used = s->count * d;
	int rc = grow((void **)&s->rows, used, cap * d, sizeof(float), 1);
	if (rc == 0)
		rc = grow((void **)&s->rows_i8, used, cap * d, 1, 1);
	if (rc == 0)
		rc = grow((void **)&s->scales, s->count, cap, sizeof(float), 0);
	if (rc == 0)
		rc = grow((void **)&s->ids, s->count, cap, sizeof(uint64_t), 0);
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
