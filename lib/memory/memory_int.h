/*
 * lib/memory internals: the contracts between the files of the memory module
 * (not installed, not ABI). cognition/memory.h is the public face.
 *
 *   memory.c      handle, options, namespaces               (mem_ns_*)
 *   put.c         put, put_json, merge of near duplicates, episodes
 *   get.c         get, forget, forget_where, purge, the record → JSON
 *   working.c     the working layer (RAM, token-bounded)    (mem_work_*)
 *   embed.c       embedder choice: LLM router or hashing     (mem_embed_*)
 *   hashing.c     the hashing embedder                       (mem_hash_*)
 *   index.c       the handle's vector index over storage     (mem_index_*)
 *   dedupe.c      near-duplicate candidates (LSH buckets)    (mem_lsh_*)
 *   search.c      query JSON → keyword + vector lists        (cog_memory_search)
 *   rank.c        reciprocal rank fusion, recency, importance (mem_rank_*)
 *   tokens.c      token estimation and calibration          (mem_tok_*)
 *   context.c     context assembly, summarising old turns    (cog_memory_context)
 *   stats.c       cog_memory_stats
 *   vector*.c     exact SIMD search (vector.h)
 */
#ifndef COG_MEMORY_INT_H
#define COG_MEMORY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "cognition/memory.h"
#include "vector.h"

#define MEM_SEGMENTS_MAX 4
#define MEM_SEGMENT_MAX 64
#define MEM_TEXT_MAX_DEFAULT (1024u * 1024u)
#define MEM_SHORT_TTL_DEFAULT (24LL * 3600 * 1000)
#define MEM_WORKING_TOKENS_DEFAULT 8192u
#define MEM_DEDUPE_DEFAULT 0.95
#define MEM_HASH_DIM_DEFAULT 384u
#define MEM_HASH_DIM_MIN 16u
#define MEM_HASH_DIM_MAX 4096u
/* Working-layer ids live in [2^52, 2^53): never a storage id (those stay
 * far below), still exact in a JSON number. */
#define MEM_WORK_ID_BASE (UINT64_C(1) << 52)
#define MEM_ID_MAX ((UINT64_C(1) << 53) - 1)

/* ---- namespaces (memory.c) ---- */

/* Check ns (segments as in memory.h); COG_EINVAL naming the segment and
 * the reason, with `fn` as the message's prefix. */
int mem_ns_check(const char *fn, const char *ns);
/* ns itself, then its ancestors, longest first: "a/b/c" → "a/b/c", "a/b",
 * "a". Returns the count (1..4); out[i] point into `storage` (at least
 * COG_MEMORY_NAMESPACE_MAX * 4 + 4 bytes). ns must have passed mem_ns_check. */
size_t mem_ns_chain(const char *ns, char *storage, const char *out[MEM_SEGMENTS_MAX]);

/* ---- layer names (memory.c) ---- */

/* "working", "short_term", "long_term", "episodic"; NULL for another value. */
const char *mem_layer_name(unsigned int layer);
/* The bit for a name; 0 when unknown. */
unsigned int mem_layer_bit(const char *name);
/* A JSON array of layer names (or NULL/absent: all) into a mask; COG_EINVAL
 * naming `where` and the bad element. */
int mem_layers_from_json(const cJSON *array, const char *where, unsigned int *mask);

/* ---- the working layer (working.c) ---- */

typedef struct mem_work_item {
	uint64_t id;             /* MEM_WORK_ID_BASE + n */
	char *text;
	size_t text_len;
	char *metadata;          /* JSON object text */
	double importance;
	int64_t created_at;
	size_t tokens;           /* estimate at put time */
	float *vec;              /* embedding (dim of the index), or NULL */
} mem_work_item;

typedef struct mem_working {
	mem_work_item *items;    /* oldest first */
	size_t count;
	size_t cap;
	size_t tokens;           /* sum of items' tokens */
	size_t max_tokens;
	uint64_t next;           /* the next id's offset */
	size_t evicted;          /* items dropped to stay under max_tokens */
} mem_working;

/* Append (text and metadata copied; vec copied when not NULL, dim floats).
 * Evicts the oldest items while over max_tokens (never the new one). */
int mem_work_add(mem_working *w, const char *text, size_t len, const char *metadata,
                 double importance, size_t tokens, const float *vec, size_t dim,
                 uint64_t *id);
mem_work_item *mem_work_find(mem_working *w, uint64_t id);
int mem_work_remove(mem_working *w, uint64_t id);   /* COG_ENOTFOUND */
void mem_work_clear(mem_working *w);

/* ---- token estimation (tokens.c) ---- */

typedef struct mem_tokens {
	double ratio;            /* multiplier of the estimate, calibrated; starts at 1.0 */
	uint64_t samples;
	double abs_err_sum;      /* sum of |estimate - actual| / actual before each update */
} mem_tokens;

void mem_tok_init(mem_tokens *t);
/* Estimate tokens of plain text. */
size_t mem_tok_text(const mem_tokens *t, const char *text, size_t len);
/* Estimate an LLM request's messages (content + per-message overhead). */
size_t mem_tok_messages(const mem_tokens *t, const cJSON *messages);
/* Update the ratio from one (request, reported input tokens) pair. */
int mem_tok_calibrate(mem_tokens *t, const cJSON *request, uint64_t input_tokens);

/* ---- embedding (embed.c, hashing.c) ---- */

/* The built-in hashing embedder: words (cog_text_words) and character
 * 3-grams of "<word>" (with its boundaries), hashed with signs into dim
 * buckets, weighted (a word 1.0; each of a word's g grams 0.5 / sqrt(g), so
 * the grams of a word together have length 0.5), sub-linear (1 + ln tf),
 * normalised to unit length. Deterministic and identical on every
 * platform. Text without any word gives COG_EINVAL. */
int mem_hash_embed(const char *text, size_t len, float *out, size_t dim);
/* The model name recorded for it: "hash-<dim>" into out (32 bytes). */
void mem_hash_model(size_t dim, char out[32]);

typedef enum mem_embed_kind { MEM_EMBED_AUTO, MEM_EMBED_HASHING, MEM_EMBED_LLM } mem_embed_kind;

typedef struct mem_embedder {
	mem_embed_kind want;     /* from the options */
	bool llm_failed;         /* auto: the router could not embed; hashing from now on */
	bool decided;            /* model and dim are known */
	char model[128];         /* "hash-384", or the router's model name */
	size_t dim;
	size_t hashing_dim;
} mem_embedder;

/* Embed n texts into out (n x dim floats, unit length). The first call
 * decides the model and dim (auto: the router when cog_llm_available() and
 * the "embedder" route answers, else hashing; a later router failure in auto
 * mode after a successful LLM embedding is an error, not a silent switch).
 * Texts of an LLM batch go in one router call (at most 256 per call). */
int mem_embed(struct cog_memory *m, const char *const *texts, const size_t *lens,
              size_t n, float *out);
/* Decide without embedding anything (hashing: at once; LLM: embeds "probe"). */
int mem_embed_decide(struct cog_memory *m);

/* ---- near-duplicate candidates (dedupe.c) ---- */

/* Locality-sensitive hashing with random hyperplanes (fixed seed): `tables`
 * tables of `bits`-bit signatures; rows whose signature matches the query's
 * in some table are candidates. */
typedef struct mem_lsh mem_lsh;
int mem_lsh_new(mem_lsh **out, size_t dim);
void mem_lsh_free(mem_lsh *l);
int mem_lsh_add(mem_lsh *l, uint32_t row, const float *unit_vec);
/* Candidate rows for vec (deduplicated) into *rows (cog_malloc'd array the
 * caller frees), *n their count. */
int mem_lsh_candidates(const mem_lsh *l, const float *unit_vec, uint32_t **rows, size_t *n);
/* The same into l's own buffer (valid until the next query or add): no
 * allocation once the buffer has grown. */
int mem_lsh_query(mem_lsh *l, const float *unit_vec, const uint32_t **rows, size_t *n);

/* ---- the word multisets of hashing-embedder rows (dedupe_hash.c) ---- */

/* A text's words (cog_text_words) as sorted 64-bit hashes, repeats kept:
 * v points at local for the usual few dozen words. */
typedef struct mem_words {
	uint64_t *v, local[128];
	size_t n, cap;
	bool failed;
} mem_words;
int mem_words_sorted(const char *text, size_t len, mem_words *w);
void mem_words_dispose(mem_words *w);
/* Multiset Jaccard similarity of two sorted word lists (1 when both empty). */
double mem_words_jaccard(const mem_words *a, const mem_words *b);

/* A text's word multiset (cog_text_words) as one key, a sum of one hash
 * per word occurrence, and for texts of at most MEM_WORDS_DEL_MAX words the
 * keys of the multisets one word shorter (one per distinct word); hashed:
 * the vector came from the hashing embedder (put_merge.c then also
 * requires the words to agree). */
#define MEM_WORDS_DEL_MAX 64
typedef struct mem_words_key {
	uint64_t key;            /* never 0 */
	size_t count;            /* words, repeats included */
	bool hashed;
	size_t ndel;             /* 0 when count > MEM_WORDS_DEL_MAX */
	uint64_t del[MEM_WORDS_DEL_MAX];
} mem_words_key;
int mem_words_key_of(const char *text, size_t len, bool hashed, mem_words_key *out);
/* For a dedupe threshold (dedupe_hash.c says why): a different multiset
 * can reach it only when both have at least *near words, and can differ
 * in more than one word only when both have at least *far. */
void mem_words_bounds(double threshold, size_t *near, size_t *far);
/* key → rows, several rows per key (open addressing, half load at most). */
typedef struct mem_word_map {
	uint64_t *keys;
	uint32_t *rows;
	size_t cap, count;
} mem_word_map;
int mem_word_map_add(mem_word_map *w, uint64_t key, uint32_t row);
/* The rows of key one by one: *pos SIZE_MAX to start; false at the end. */
bool mem_word_map_next(const mem_word_map *w, uint64_t key, size_t *pos, uint32_t *row);
void mem_word_map_dispose(mem_word_map *w);

/* ---- the vector index of a handle (index.c) ---- */

/* Rows for the handle's namespace chain (memory.c's chain: slot 0 is the
 * handle's own namespace, 1.. its ancestors), loaded from storage with
 * queries that name those namespaces, kept in sync with this handle's own
 * writes and refreshed with the others' (ids above the last loaded) at
 * every search. Rows of forgotten memories are switched off. */
typedef struct mem_index {
	mem_vec_store *vs;
	uint8_t *row_slot;       /* namespace slot per row */
	uint8_t *row_layer;      /* layer bit per row */
	uint8_t *dead;           /* bitmap: forgotten rows */
	size_t row_cap;
	uint64_t max_id;         /* highest storage id loaded */
	mem_lsh *lsh;            /* for the handle's own namespace rows */
	/* id → row: open addressing, for forget and merge */
	uint64_t *map_ids;
	uint32_t *map_rows;
	size_t map_cap;          /* power of two */
	size_t reembedded;       /* rows re-embedded because the model changed */
} mem_index;

/* Load or refresh (idempotent; cheap when nothing is new). Memories whose
 * embed_model differs from the embedder's are re-embedded and written back. */
int mem_index_sync(struct cog_memory *m);
/* words: the text's multiset when the vector is the hashing embedder's
 * (else NULL): such rows of slot 0 are found by multiset, and only those
 * with enough words for a near (not identical) multiset go into the LSH. */
int mem_index_add(struct cog_memory *m, uint64_t id, unsigned int slot,
                  unsigned int layer, const float *unit_vec,
                  const mem_words_key *words);
void mem_index_kill(struct cog_memory *m, uint64_t id);
void mem_index_free(mem_index *ix);
/* Best k rows among slots in slot_mask (bit i = slot i) and layers. */
int mem_index_search(struct cog_memory *m, const float *query, size_t k,
                     unsigned int slot_mask, unsigned int layers,
                     mem_vec_hit *hits, size_t *nhits);
/* The most similar live row of the handle's own namespace and `layer` with
 * cosine >= threshold (exact cosine over the candidates: the rows of the
 * same word multiset when words is not NULL, and the LSH's unless words
 * shows that only an identical multiset can be a duplicate; a threshold
 * below the handle's dedupe_threshold may then miss rows): *id 0 if none. */
int mem_index_near_duplicate(struct cog_memory *m, const float *unit_vec,
                             unsigned int layer, double threshold,
                             const mem_words_key *words,
                             uint64_t *id, float *cosine);

/* ---- ranking (rank.c) ---- */

typedef struct mem_rank_weights {
	double keyword;          /* default 1 */
	double vector;           /* default 1 */
	double recency;          /* default 0.2: share of the score that decays */
	double importance;       /* default 0.3 */
	double half_life_ms;     /* default 30 days */
	double rrf_k;            /* 60 */
} mem_rank_weights;

void mem_rank_defaults(mem_rank_weights *w);

typedef struct mem_candidate {
	uint64_t id;
	int keyword_rank;        /* 1-based; 0: not in the keyword list */
	double bm25;
	int vector_rank;
	double cosine;
	double importance;
	int64_t created_at;
	double recency;          /* computed */
	double score;            /* computed */
} mem_candidate;

/* score = (Σ w_list / (rrf_k + rank)) × ((1 - w_rec) + w_rec × 0.5^(age/half_life))
 *         × (1 + w_imp × (importance - 0.5)); sorts by score descending, then
 * id ascending. now in Unix ms. */
void mem_rank_fuse(mem_candidate *c, size_t n, const mem_rank_weights *w, int64_t now);

/* A caller's own vector is recorded as "host" or "host:<embed_model>". */
static inline bool mem_model_is_host(const char *model)
{
	return strncmp(model, "host", 4) == 0 && (model[4] == '\0' || model[4] == ':');
}

/* ---- the handle (memory.c) ---- */

struct cog_memory {
	cog_ctx *ctx;
	cog_storage *store;      /* the context's, or own_store */
	cog_storage *own_store;  /* an in-memory store when the ctx has none */
	char ns[COG_MEMORY_NAMESPACE_MAX + 1];
	char chain_buf[(COG_MEMORY_NAMESPACE_MAX + 1) * MEM_SEGMENTS_MAX];
	const char *chain[MEM_SEGMENTS_MAX];  /* chain[0] == ns */
	size_t chain_len;
	cog_memory_options opt;  /* defaults filled in; embedder not kept */
	mem_embedder emb;
	mem_index *index;        /* NULL until the first sync */
	mem_working working;
	mem_tokens tokens;
	/* counters for stats */
	uint64_t puts;
	uint64_t merged;
	uint64_t searches;
	uint64_t redactions;
};

/* ---- put (put.c, put_merge.c, put_json.c) ---- */

/* Merge a put into memory `id` of the handle's namespace and o->layer:
 * COG_MEMORY_MERGED, 0 when it is not a near duplicate after all (the
 * cosine with the stored vector, and under a hashing embedder the words'
 * multiset Jaccard, below the threshold), or an error. */
int mem_put_merge(struct cog_memory *m, uint64_t id, const char *text, size_t len,
                  const cog_memory_put_options *o, const float *vec, int64_t now,
                  int64_t expires_at);
/* The metadata of a stored layer redacted (unless no_redact: every key,
 * string and 13..19-digit integer) into *out (cog_free), NULL when nothing
 * changed. */
int mem_put_redact_metadata(struct cog_memory *m, const char *md, char **out);

/* The storage record of a stored memory as the JSON object of
 * cog_memory_get() (get.c); with_text 0 leaves text out. */
cJSON *mem_record_json(const cog_storage_memory_record *rec, bool with_text);
cJSON *mem_work_json(const struct cog_memory *m, const mem_work_item *it, bool with_text);

/* Redact (unless no_redact) into *out (cog_free): counts go to the handle. */
int mem_redact(struct cog_memory *m, const char *text, size_t len, char **out, size_t *out_len);

#endif
