/*
 * Hybrid ranking: reciprocal rank fusion (Cormack, Clarke and Büttcher,
 * SIGIR 2009) of the keyword and vector lists, scaled by recency (an
 * exponential decay with a half-life, only a share of the score decays so
 * an old but exact match still ranks) and by importance (centred on 0.5, the
 * default, so an untouched memory is neither helped nor hurt).
 *
 * RRF uses ranks, not raw scores: BM25 and cosine live on unrelated scales,
 * and ranks make the two lists comparable without calibration.
 */
#include <math.h>
#include <stdlib.h>

#include "memory_int.h"

void mem_rank_defaults(mem_rank_weights *w)
{
	w->keyword = 1.0;
	w->vector = 1.0;
	w->recency = 0.2;
	w->importance = 0.3;
	w->half_life_ms = 30.0 * 24 * 3600 * 1000;
	w->rrf_k = 60.0;
}

static int by_score_then_id(const void *pa, const void *pb)
{
	const mem_candidate *a = pa, *b = pb;
	if (a->score > b->score)
		return -1;
	if (a->score < b->score)
		return 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

void mem_rank_fuse(mem_candidate *c, size_t n, const mem_rank_weights *w, int64_t now)
{
	double half_life = w->half_life_ms > 0 ? w->half_life_ms : 1.0;
	for (size_t i = 0; i < n; i++) {
		double fused = 0;
		if (c[i].keyword_rank > 0)
			fused += w->keyword / (w->rrf_k + c[i].keyword_rank);
		if (c[i].vector_rank > 0)
			fused += w->vector / (w->rrf_k + c[i].vector_rank);
		/* A memory from the future (clock skew between writers) is new. */
		double age = c[i].created_at < now ? (double)(now - c[i].created_at) : 0.0;
		c[i].recency = exp2(-age / half_life);
		double decay = (1.0 - w->recency) + w->recency * c[i].recency;
		double weight = 1.0 + w->importance * (c[i].importance - 0.5);
		c[i].score = fused * decay * weight;
		if (!isfinite(c[i].score))   /* never expected; keeps the sort total */
			c[i].score = 0;
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), by_score_then_id);
}
