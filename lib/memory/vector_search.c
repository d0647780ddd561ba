/*
 * Exhaustive top-k search over a flat store: single query (float32 or int8)
 * and batches of queries. Rows are scored a block at a time by the active
 * kernels; a bounded min-heap per query keeps the best k, ties going to the
 * lower id.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core_int.h"
#include "vector.h"

#define ROW_BLOCK 256      /* most rows scored per kernel call (batch, int8) */
/* Rows per kernel call for a single float32 query (fewer calls and filter
 * passes than ROW_BLOCK; 2048 scores are 8 KiB). */
#define SINGLE_BLOCK 2048
#define QUERY_GROUP 64     /* queries sharing one pass over the matrix (batch) */

/* a ranks below b: lower score, or the same score and a higher id. */
static int worse(const mem_vec_hit *a, const mem_vec_hit *b)
{
	return a->score < b->score || (a->score == b->score && a->id > b->id);
}

static void sift_down(mem_vec_hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && worse(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && worse(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		mem_vec_hit t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void heap_offer(mem_vec_hit *h, size_t *n, size_t k, const mem_vec_hit *c)
{
	if (*n < k) {
		size_t i = (*n)++;
		h[i] = *c;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (!worse(&h[i], &h[p]))
				break;
			mem_vec_hit t = h[i];
			h[i] = h[p];
			h[p] = t;
			i = p;
		}
	} else if (c->score >= h[0].score && worse(&h[0], c)) {
		h[0] = *c;
		sift_down(h, k, 0);
	}
}

static int cmp_hits(const void *pa, const void *pb)
{
	const mem_vec_hit *a = pa, *b = pb;
	return worse(a, b) ? 1 : worse(b, a) ? -1 : 0;
}

static int allowed(const uint8_t *allow, size_t r)
{
	return !allow || (allow[r / 8] >> (r % 8)) & 1;
}

/* Rows allowed among [r0, r0 + n), and runs of consecutive allowed rows;
 * 56 bits at a time (never reads past byte (r0 + n - 1) / 8). */
static void count_allowed(const uint8_t *allow, size_t r0, size_t n, size_t *nset, size_t *nruns)
{
	size_t set = 0, runs = 0;
	uint64_t prev = 0;   /* the bit before the current word */
	for (size_t r = 0; r < n;) {
		size_t bit = r0 + r, take = n - r < 56 ? n - r : 56;
		size_t first = bit / 8, last = (bit + take - 1) / 8;
		uint64_t w = 0;
		for (size_t b = first; b <= last; b++)
			w |= (uint64_t)allow[b] << (8 * (b - first));
		w = (w >> (bit % 8)) & ((UINT64_C(1) << take) - 1);
		set += (size_t)__builtin_popcountll(w);
		runs += (size_t)__builtin_popcountll(w & ~((w << 1) | prev));
		prev = (w >> (take - 1)) & 1;
		r += take;
	}
	*nset = set;
	*nruns = runs;
}

static int check_args(const char *fn, const mem_vec_store *s, const float *q, size_t dim,
                      size_t k, const mem_vec_hit *hits, const size_t *nhits)
{
	if (!s || !q || !hits || !nhits)
		return cog__error(COG_EINVAL, "%s: %s is NULL", fn,
		                  !s ? "store" : !q ? "query" : !hits ? "hits" : "nhits");
	if (dim != s->dim)
		return cog__error(COG_EINVAL, "%s: query dimension %zu, the store holds %zu", fn,
		                  dim, s->dim);
	if (k == 0 || k > MEM_VEC_K_MAX)
		return cog__error(COG_EINVAL, "%s: k is %zu, expected 1..%d", fn, k, MEM_VEC_K_MAX);
	return 0;
}

int mem_vec_search(const mem_vec_store *s, const float *query, size_t dim, size_t k,
                   const uint8_t *allow, mem_vec_hit *hits, size_t *nhits)
{
	return mem_vec_search_batch(s, query, 1, dim, k, allow, hits, nhits);
}

/* Score rows [r0, r0 + nb) for queries q0.. of the group into heaps. */
static void score_block(const mem_vec_store *s, const mem_vec_kernels *kern, const float *qs,
                        size_t nq, size_t r0, size_t nb, const uint8_t *allow, float *scores,
                        size_t k, mem_vec_hit *hits, size_t *nhits)
{
	size_t dim = s->dim;
	size_t nallow = nb, nruns = 1;
	if (allow) {
		count_allowed(allow, r0, nb, &nallow, &nruns);
		if (nallow == 0)
			return;
	}
	/*
	 * Scoring every row of the block and dropping the disallowed ones later
	 * costs one pass at full speed. Scoring only the runs of allowed rows reads
	 * less, but short runs are slow (each starts cold, without the kernel's
	 * prefetch): measured on 100k x 384, random bitmaps break even between a
	 * quarter and a half of the rows allowed, while runs of 64 are faster at
	 * half. So: the whole block when at least 3/8 of it is allowed in runs
	 * shorter than 16 on average, else the runs.
	 */
	if (nallow == nb || (nallow * 8 >= nb * 3 && nruns * 16 > nallow)) {
		kern->dot_tile(s->rows + r0 * dim, nb, qs, nq, dim, scores, nb);
	} else {
		for (size_t r = 0; r < nb;) {
			if (!allowed(allow, r0 + r)) {
				r++;
				continue;
			}
			size_t e = r + 1;
			while (e < nb && allowed(allow, r0 + e))
				e++;
			kern->dot_tile(s->rows + (r0 + r) * dim, e - r, qs, nq, dim, scores + r, nb);
			r = e;
		}
	}
	for (size_t q = 0; q < nq; q++) {
		mem_vec_hit *h = hits + q * k;
		for (size_t r = 0; r < nb; r++) {
			float sc = scores[q * nb + r];
			if (nhits[q] == k && sc < h[0].score)
				continue;
			if (!allowed(allow, r0 + r))
				continue;
			mem_vec_hit c = { s->ids[r0 + r], sc, (uint32_t)(r0 + r) };
			heap_offer(h, &nhits[q], k, &c);
		}
	}
}

int mem_vec_search_batch(const mem_vec_store *s, const float *queries, size_t nq, size_t dim,
                         size_t k, const uint8_t *allow, mem_vec_hit *hits, size_t *nhits)
{
	const char *fn = nq == 1 ? "vector search" : "vector batch search";
	int rc = check_args(fn, s, queries, dim, k, hits, nhits);
	if (rc)
		return rc;
	if (nq == 0)
		return cog__error(COG_EINVAL, "%s: no queries", fn);
	size_t group = nq < QUERY_GROUP ? nq : QUERY_GROUP;
	size_t block = 16384 / dim;
	block = block < 4 ? 4 : block > ROW_BLOCK ? ROW_BLOCK : block & ~(size_t)3;
	if (nq == 1)
		block = SINGLE_BLOCK;
	float *qs = cog__calloc(group * dim, sizeof(float));
	float *scores = cog__calloc(group * block, sizeof(float));
	if (!qs || !scores) {
		cog_free(qs);
		cog_free(scores);
		return cog__oom(fn);
	}
	const mem_vec_kernels *kern = mem_vec_kernels_active();
	for (size_t g = 0; g < nq && rc == 0; g += group) {
		size_t ng = nq - g < group ? nq - g : group;
		for (size_t q = 0; q < ng && rc == 0; q++) {
			char where[80];
			snprintf(where, sizeof(where), nq == 1 ? "%s: query" : "%s: query %zu", fn, g + q);
			rc = cog__vec_normalize(queries + (g + q) * dim, dim, qs + q * dim, where);
			nhits[g + q] = 0;
		}
		for (size_t r0 = 0; r0 < s->count && rc == 0; r0 += block) {
			size_t nb = s->count - r0 < block ? s->count - r0 : block;
			score_block(s, kern, qs, ng, r0, nb, allow, scores, k, hits + g * k, nhits + g);
		}
		for (size_t q = 0; q < ng && rc == 0; q++)
			qsort(hits + (g + q) * k, nhits[g + q], sizeof(*hits), cmp_hits);
	}
	cog_free(qs);
	cog_free(scores);
	return rc;
}

int mem_vec_search_i8(const mem_vec_store *s, const float *query, size_t dim, size_t k,
                      const uint8_t *allow, mem_vec_hit *hits, size_t *nhits)
{
	const char *fn = "vector search (int8)";
	int rc = check_args(fn, s, query, dim, k, hits, nhits);
	if (rc)
		return rc;
	float *qn = cog__calloc(dim, sizeof(float));
	int8_t *q8 = cog__calloc(dim, 1);
	int32_t *dots = cog__calloc(ROW_BLOCK, sizeof(int32_t));
	if (!qn || !q8 || !dots) {
		rc = cog__oom(fn);
		goto out;
	}
	rc = cog__vec_normalize(query, dim, qn, "vector search (int8): query");
	if (rc)
		goto out;
	float qscale;
	cog__vec_quantize_i8(qn, dim, q8, &qscale);
	const mem_vec_kernels *kern = mem_vec_kernels_active();
	*nhits = 0;
	for (size_t r0 = 0; r0 < s->count; r0 += ROW_BLOCK) {
		size_t nb = s->count - r0 < ROW_BLOCK ? s->count - r0 : ROW_BLOCK;
		kern->dot_rows_i8(s->rows_i8 + r0 * dim, nb, q8, dim, dots);
		for (size_t r = 0; r < nb; r++) {
			if (!allowed(allow, r0 + r))
				continue;
			mem_vec_hit c = { s->ids[r0 + r], (float)dots[r] * s->scales[r0 + r] * qscale,
			                  (uint32_t)(r0 + r) };
			heap_offer(hits, nhits, k, &c);
		}
	}
	qsort(hits, *nhits, sizeof(*hits), cmp_hits);
out:
	cog_free(qn);
	cog_free(q8);
	cog_free(dots);
	return rc;
}
