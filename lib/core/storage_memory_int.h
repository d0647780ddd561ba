/*
 * The in-memory backend's memory records, shared by storage_memory_mem.c
 * (the store, the index, writes, transactions) and storage_memory_find.c
 * (records, filters, queries, delete by query).
 */
#ifndef COG_STORAGE_MEMORY_INT_H
#define COG_STORAGE_MEMORY_INT_H

#include "storage_int.h"

/* A member of a record's metadata object, for filters. */
typedef struct mr_member {
	const char *name;
	const char *str;        /* a string member's value */
	double num;             /* a number member's value */
	int type;               /* cJSON type bits (cJSON_String, cJSON_True, ...) */
} mr_member;

/* One record in one allocation: the struct, its members, the embedding,
 * then the strings. */
typedef struct mr_rec {
	uint64_t id;
	uint32_t slot;
	uint32_t word_count;    /* words of text: its BM25 length */
	unsigned int layer;
	uint32_t dim;
	uint32_t member_count;
	double importance;
	int64_t created_at;
	int64_t updated_at;
	int64_t expires_at;
	const char *text;
	size_t text_len;
	const char *metadata;
	size_t metadata_len;
	const char *embed_model;
	const float *embedding;
	mr_member *members;
} mr_rec;

typedef struct mr_post {
	uint32_t slot;
	uint32_t tf;
} mr_post;

typedef struct mr_term {
	uint64_t hash;
	mr_post *posts;         /* may name empty slots: skipped */
	uint32_t len, cap;
	uint32_t df;            /* live records with the word */
	uint32_t mark;          /* the last operation that saw it (mr_ns.stamp) */
	size_t word_len;
	char word[];
} mr_term;

typedef struct mr_ns {
	uint64_t hash;
	mr_rec **recs;          /* by slot, in id order; NULL: deleted */
	uint64_t *ids;          /* the id of each slot, deleted ones too */
	uint32_t *lens;         /* the word count of each slot's record (BM25) */
	uint32_t slots, slot_cap;
	uint32_t live, dead, expiring;
	uint32_t stamp;
	uint64_t total_words;
	mr_term **terms;        /* open addressing, power-of-two size */
	size_t term_cap, term_count;
	char name[];
} mr_ns;

enum { UNDO_INSERT, UNDO_DELETE, UNDO_REPLACE };

typedef struct mr_undo {
	int kind;
	mr_ns *ns;
	uint32_t slot;
	mr_rec *old;            /* the deleted or replaced record */
} mr_undo;

struct cog_memrec_store {
	mr_ns **ns_table;       /* open addressing, power-of-two size */
	size_t ns_cap, ns_count;
	uint64_t next_id;
	bool in_txn;
	mr_undo *undo;
	size_t undo_len, undo_cap;
};

uint64_t cog__memrec_hash(const char *s, size_t len);
/* Grow *ptr (of *cap items of `size`) to hold `need`, doubling from
 * `first`; COG_ENOMEM (message set) leaves it as it was. */
int cog__memrec_grow(void **ptr, size_t *cap, size_t need, size_t size, size_t first);
mr_ns *cog__memrec_ns_find(const cog_memrec_store *m, const char *name);
/* The first slot whose id is >= id (n->slots if none). */
size_t cog__memrec_lower_bound(const mr_ns *n, uint64_t id);
/* The live record with this id, or NULL. */
mr_rec *cog__memrec_lookup(const mr_ns *n, uint64_t id);
mr_term *cog__memrec_term_find(const mr_ns *n, const char *word, size_t len, uint64_t h);
/* ---- the keyword index (storage_memory_index.c) ---- */

/* Add r's postings (r->slot set) and set r->word_count; on failure nothing
 * was added. Cannot fail when r's postings were there before (a rollback,
 * or a failed replace putting the old text back). */
int cog__memrec_index_add(mr_ns *n, mr_rec *r);
/* Take r's postings away at once. */
void cog__memrec_index_remove(mr_ns *n, mr_rec *r);
/* Count r in (delta 1) or out (-1) of its words' document frequencies,
 * leaving its postings. */
void cog__memrec_index_df(mr_ns *n, mr_rec *r, int delta);
/* After the slots moved: the postings anew from the live records. */
void cog__memrec_index_rebuild(mr_ns *n);
void cog__memrec_index_free(mr_ns *n);

/* A record from a checked one (id and slot left 0); NULL on OOM. */
mr_rec *cog__memrec_build(const cog_storage_memory_record *rec);
/* Empty a live slot; inside a transaction the caller reserved the undo
 * entry (cog__memrec_undo_reserve). */
void cog__memrec_delete_at(cog_memrec_store *m, mr_ns *n, uint32_t slot);
int cog__memrec_undo_reserve(cog_memrec_store *m, size_t extra);
/* Close the gaps of a mostly deleted namespace (not in a transaction). */
void cog__memrec_compact(cog_memrec_store *m, mr_ns *n);

/* ---- queries (storage_memory_find.c, storage_memory_search.c) ---- */

#define MR_QUERY_NS_MAX 8

typedef struct mr_query {
	const cog_storage_memory_query *q;
	mr_ns *ns[MR_QUERY_NS_MAX]; /* the named namespaces that exist, once each */
	size_t ns_count;
	cJSON *filter;
	uint64_t *ids;              /* sorted, unique */
	size_t id_count;
} mr_query;

/* Whether r meets every condition of the query but the match. */
bool cog__memrec_visible(const mr_query *mq, const mr_rec *r);
/* The record as the callback sees it. */
void cog__memrec_view(const mr_ns *n, const mr_rec *r, bool with_embedding,
                      cog_storage_memory_record *v);
/* Keyword search: mq->q->match is set, mq->ns_count >= 1. */
int cog__memrec_search(const mr_query *mq, cog_storage_memory_fn fn, void *user_data);

#endif /* COG_STORAGE_MEMORY_INT_H */
