/*
 * cog_memory_search's parts (internal to lib/memory):
 *
 *   search_query.c  the query JSON → mem_search_query (validated)
 *   search_cands.c  the candidate set and the ranks within each list
 *   search_keep.c   flat copies of the candidates' records (for the final k)
 *   search_work.c   the working layer's keyword and vector candidates
 *   search.c        the storage lists and their fusion
 *   search_result.c the final k as JSON
 */
#ifndef COG_MEMORY_SEARCH_INT_H
#define COG_MEMORY_SEARCH_INT_H

#include "memory_int.h"

#define MEM_SEARCH_K_DEFAULT 10
#define MEM_SEARCH_K_MAX 1000

typedef struct mem_search_query {
	cJSON *root;              /* the parsed query; owns the borrowed members */
	const char *text;         /* NULL: no text (borrowed from root) */
	size_t text_len;
	bool text_has_words;      /* text has at least one word (cog_text_words) */
	float *vector;            /* the caller's vector, unit length (cog_malloc), or NULL */
	size_t dim;
	size_t k;
	unsigned int layers;      /* mask, never 0 */
	const cJSON *metadata;    /* NULL, or a non-empty object of scalars (borrowed) */
	char *filter;             /* metadata as compact JSON for storage, or NULL */
	int64_t since;            /* 0: no bound */
	int64_t until;            /* 0: no bound */
	bool inherit;
	mem_rank_weights w;
} mem_search_query;

/* Parse and check query_json (errors prefixed with fn). The vector's
 * dimension is not checked against the index here. */
int mem_search_query_parse(const char *fn, const char *query_json, size_t text_max,
                           mem_search_query *q);
void mem_search_query_dispose(mem_search_query *q);

/* True when a metadata object (JSON text) satisfies the filter: every member
 * of filter equal (null also matches an absent member). */
bool mem_search_metadata_matches(const cJSON *filter, const char *metadata);

/* The candidates of one search (zero-initialise). Pointers from get/find
 * stay valid until the next get (which may grow the array). A list's rank
 * is -1 while a candidate is a member without a rank yet. */
typedef struct mem_cands {
	mem_candidate *c;
	size_t n, cap;
	uint64_t *ids;            /* id → index map: keys, 0 empty */
	uint32_t *idx;
	size_t mask;
} mem_cands;

mem_candidate *mem_cands_find(const mem_cands *s, uint64_t id);
/* The candidate of id, added zeroed when new; COG_ENOMEM. */
int mem_cands_get(mem_cands *s, uint64_t id, mem_candidate **out);
/* Number the members of one list (keyword or vector) 1.. by the list's score
 * (bm25 or cosine) descending, ties by id ascending. */
int mem_cands_rank(mem_cands *s, bool keyword);
void mem_cands_dispose(mem_cands *s);

/* Records copied as the lists read them (zero-initialise). */
typedef struct mem_kept_rec mem_kept_rec;
typedef struct mem_kept {
	cog_buf arena;
	mem_kept_rec *recs;
	size_t n, cap;
	bool sorted;
} mem_kept;

/* Copy rec (not its embedding); a record too large to keep is skipped
 * (still COG_OK). COG_ENOMEM. */
int mem_kept_add(mem_kept *k, const cog_storage_memory_record *rec);
/* The kept record of id as the JSON of cog_memory_get() into *out (NULL
 * when it was not kept). COG_ENOMEM. */
int mem_kept_json(mem_kept *k, uint64_t id, cJSON **out);
void mem_kept_dispose(mem_kept *k);

/* A working item that passed the filters, with its signals. */
typedef struct mem_work_hit {
	mem_work_item *item;
	double bm25;              /* > 0 when the keyword side found it */
	double cosine;
	bool keyword;             /* found by the keyword side */
	bool vector;              /* found by the vector side */
} mem_work_hit;

/*
 * Score the handle's working items against the query: BM25 over their words
 * (when want_keyword and the text has words) and cosine with qvec (unit, the
 * index's dim; NULL: no vector side). Only items within the time range and
 * matching the metadata filter take part. *hits (cog_malloc, may be NULL
 * when *n is 0) gets the items that either side found.
 */
int mem_search_working(struct cog_memory *m, const mem_search_query *q, bool want_keyword,
                       const float *qvec, size_t dim, mem_work_hit **hits, size_t *n);

/* ---- one search (search.c, search_result.c) ---- */

typedef struct mem_search_top {
	uint64_t id;
	size_t pos;                      /* in the fused order */
} mem_search_top;

typedef struct mem_search_run {
	cog_memory *m;
	mem_search_query q;
	int64_t now;
	size_t per_list;                 /* candidates asked of each list */
	unsigned int stored_layers;      /* q.layers without working */
	mem_cands set;
	mem_kept kept;
	cJSON **records;                 /* the final k's JSON, by position */
	mem_search_top *top;             /* the final stored k, by id */
	size_t ntop;
} mem_search_run;

/* The storage query every list starts from: the namespaces (the handle's,
 * with its ancestors when the search inherits), layers, time and filter. */
cog_storage_memory_query mem_search_storage_query(const mem_search_run *r);
/* rec with its dim filled in when the backend left it out (see search.c). */
cog_storage_memory_record mem_search_with_dim(const mem_search_run *r,
                                              const cog_storage_memory_record *rec);
/* The first n fused candidates as the search's answer into *result_json. */
int mem_search_result(mem_search_run *r, size_t n, char **result_json);

#endif
