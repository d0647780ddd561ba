/* C face of the faiss peer (faiss_flat.cpp). */
#ifndef BENCH_FAISS_FLAT_H
#define BENCH_FAISS_FLAT_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void *faiss_flat_new(const float *rows, size_t n, size_t dim);
void faiss_flat_search(void *index, const float *queries, size_t nq, size_t k, float *scores,
                       int64_t *labels);
void faiss_flat_free(void *index);
#ifdef __cplusplus
}
#endif
#endif
