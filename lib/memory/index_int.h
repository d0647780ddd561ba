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
	size_t skipped;                               /* rows left out: no vector could be made */
	mem_word_map words;                           /* slot-0 hashing rows by multiset */
	mem_word_map dels;                            /* the same by multisets one word shorter */
	size_t del_min;                               /* ... for rows of del_min .. */
	size_t lsh_min;                               /* lsh_min + 1 words; from lsh_min on in the LSH */
	size_t lsh_plain;                             /* slot-0 rows in the LSH without words */
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
/* Append a row (vec: ix's dimension, any non-zero length; words: the
 * text's multiset when vec is the hashing embedder's, else NULL); an id
 * already present has its old row switched off first. */
int ix_append(mem_index *ix, uint64_t id, unsigned int slot, unsigned int layer,
              const float *vec, const mem_words_key *words);
/* Whether a model name is the hashing embedder's ("hash-<dim>"). */
bool ix_model_hashed(const char *model);
/* The index, loaded and for the embedder's current model (index.c). */
int ix_ensure(struct cog_memory *m);
/* Whether a row was switched off (forgotten, replaced). */
bool ix_row_dead(const mem_index *ix, size_t row);
/* The layer's index 0..3, or -1 for anything but one layer bit. */
int ix_layer_index(unsigned int layer);

/* A stored row whose vector is made again (index_sync.c), as it was read. */
typedef struct ix_stale_row {
	uint64_t id;
	char *ns;
	unsigned int layer;
	unsigned int slot;
	char *text;
	size_t text_len;
	int64_t updated_at;
} ix_stale_row;

/* What becomes of a re-embedded row. */
enum {
	IX_ROW_FAILED,    /* no vector: left out of the index */
	IX_ROW_INDEX,     /* into the index only */
	IX_ROW_WRITE,     /* to write back, then into the index */
	IX_ROW_GONE,      /* forgotten or expired meanwhile: left out */
	IX_ROW_CHANGED    /* its text changed meanwhile: left out */
};

/* Write the IX_ROW_WRITE rows of rows[0..n) back with their new vectors
 * (vecs, n x dim) and the embedder's model, in one transaction when the
 * storage allows one. Each row is read again first and written as it is
 * now with only its vector changed; a row updated meanwhile is not written
 * (IX_ROW_INDEX: its text is the same, the vector fits), one whose text
 * changed becomes IX_ROW_CHANGED, one gone IX_ROW_GONE; written rows become
 * IX_ROW_INDEX. */
int ix_write_back(struct cog_memory *m, const ix_stale_row *rows, size_t n,
                  const float *vecs, size_t dim, uint8_t *state);

#endif
