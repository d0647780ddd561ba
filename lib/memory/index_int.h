/*
 * Between index.c (the index's rows, map, search) and index_sync.c (loading
 * and refreshing it from storage, re-embedding). Private to those two.
 */
#ifndef COG_MEMORY_INDEX_INT_H
#define COG_MEMORY_INDEX_INT_H

#include "memory_int.h"

#define IX_LAYERS 4   /* working, short-term, long-term, episodic */
/* From this many rows on, a search scans the int8 rows for
 * max(IX_I8_FACTOR x k, k + IX_I8_EXTRA) candidates (at most
 * MEM_VEC_K_MAX) and scores those exactly (index.c). */
#define IX_I8_MIN_ROWS 16384
#define IX_I8_FACTOR 4
#define IX_I8_EXTRA 64

/* The index with what memory_int.h does not show: m->index points at pub. */
typedef struct mem_index_impl {
	mem_index pub;
	char model[128];                              /* the embedder it was built for */
	size_t live[MEM_SEGMENTS_MAX][IX_LAYERS];     /* live rows per slot and layer */
	size_t dead_count;
	uint8_t *allow;                               /* search scratch: row bitmap */
	size_t allow_cap;                             /* bytes */
} mem_index_impl;

static inline mem_index_impl *ix_impl(mem_index *ix)
{
	return (mem_index_impl *)ix;
}

/* An empty index for the embedder's current model and dimension. */
int ix_new(struct cog_memory *m, mem_index **out);
/* Whether the index was built for another model or dimension. */
bool ix_stale(const struct cog_memory *m, const mem_index *ix);
/* Whether id has a row (live or not). */
bool ix_has(const mem_index *ix, uint64_t id);
/* Append a row (vec: ix's dimension, any non-zero length); an id already
 * present has its old row switched off first. */
int ix_append(mem_index *ix, uint64_t id, unsigned int slot, unsigned int layer,
              const float *vec);
/* The layer's index 0..3, or -1 for anything but one layer bit. */
int ix_layer_index(unsigned int layer);

#endif
