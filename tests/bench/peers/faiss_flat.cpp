// The faiss peer for bench_vector: IndexFlatIP over the same rows, called
// from C (faiss_flat.h). Built only with -Dbench=enabled when faiss is found.
#include <faiss/IndexFlat.h>

#include "faiss_flat.h"

extern "C" void *faiss_flat_new(const float *rows, size_t n, size_t dim)
{
	auto *index = new faiss::IndexFlatIP((faiss::Index::idx_t)dim);
	index->add((faiss::Index::idx_t)n, rows);
	return index;
}

extern "C" void faiss_flat_search(void *index, const float *queries, size_t nq, size_t k,
                                  float *scores, int64_t *labels)
{
	static_cast<faiss::IndexFlatIP *>(index)->search((faiss::Index::idx_t)nq, queries,
	                                                 (faiss::Index::idx_t)k, scores, labels);
}

extern "C" void faiss_flat_free(void *index)
{
	delete static_cast<faiss::IndexFlatIP *>(index);
}
