/*
 * libcognition: memory.
 *
 * A cog_memory is a view of the context's storage for one namespace, with
 * four layers:
 *
 *   working     the current run's turns and notes: in RAM in this handle only,
 *               bounded by tokens (the oldest go first), gone at free;
 *   short-term  stored with a time to live (default 24 h): an expired memory
 *               is never returned, and purge deletes it;
 *   long-term   stored until forgotten; the default layer;
 *   episodic    append-only history of runs (tasks, LLM calls, tool calls,
 *               outcomes, cost, timing): never merged or changed.
 *
 * Namespaces are paths of one to four segments, tenant/principal/agent/session
 * ("acme", "acme/alice", "acme/alice/helper/s-42"); a segment is 1..64 bytes
 * of letters, digits and . _ - : @. A handle sees its own namespace and, when a
 * search asks for "inherit", its ancestors ("acme/alice" from
 * "acme/alice/helper/s-42"); never a sibling or a descendant. The namespace
 * is part of every storage query (docs/memory.md explains how each backend
 * enforces it).
 *
 * Search is hybrid: BM25 keyword search in the storage backend (SQLite FTS5
 * in libcognition-sqlite) and exact vector search over embeddings, fused by
 * reciprocal rank, with recency decay and importance. Embeddings come from the
 * context's LLM router ("embedder" route) when one is configured and answers,
 * otherwise from a built-in hashing embedder: word and character n-gram
 * feature hashing. The hashing embedder is lexical (it finds shared words
 * and spellings, not meaning), needs no model and is deterministic. Each
 * memory records the embedder and dimension that made its vector; memories
 * made by another embedder are re-embedded when the index loads.
 *
 * Text is redacted (emails, phone numbers, card numbers, IBANs, API keys and
 * tokens, private keys, and the context's own patterns: cog_redact_configure)
 * before it is stored in any layer but working, and before it reaches a log.
 *
 * Threads: a cog_memory is used by one thread at a time. Several handles (in
 * one process or several, over one SQLite file) may share a namespace: each
 * sees the others' writes at its next search.
 */
#ifndef COGNITION_MEMORY_H
#define COGNITION_MEMORY_H

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_memory cog_memory;

/* Layers, as bits: a mask combines them. */
#define COG_MEMORY_WORKING    0x1u
#define COG_MEMORY_SHORT_TERM 0x2u
#define COG_MEMORY_LONG_TERM  0x4u
#define COG_MEMORY_EPISODIC   0x8u
#define COG_MEMORY_LAYERS_ALL 0xFu

#define COG_MEMORY_NAMESPACE_MAX 259u  /* bytes: 4 segments of 64 + 3 '/' */

/* cog_memory_put() returns this (a success) when the text was merged into
 * an existing near-duplicate memory, whose id it reports. */
#define COG_MEMORY_MERGED 1

typedef struct cog_memory_options {
	unsigned int version;
	size_t max_text_bytes;      /* a larger text is refused (COG_ERANGE); 0: 1 MiB */
	int64_t short_term_ttl_ms;  /* 0: 24 h */
	size_t working_max_tokens;  /* 0: 8192 */
	/* A put whose embedding has at least this cosine similarity with a
	 * memory of the same layer and namespace merges into it (text kept,
	 * importance raised to the larger, metadata members added, the
	 * expiry extended). With the hashing embedder (lexical, and prone to
	 * collisions) the two texts' word multisets must also have a Jaccard
	 * similarity of at least the threshold, so texts that differ in a word
	 * or a number never merge at 0.95. 0: 0.95; above 1 (e.g. 2.0): never
	 * merge. */
	double dedupe_threshold;
	/* NULL or "auto": the context's LLM router when it has an endpoint
	 * (role "embedder"), falling back to "hashing" when the router cannot
	 * embed; "hashing": always the built-in embedder; "llm": the router
	 * only (a put fails when it cannot embed). */
	const char *embedder;
	unsigned int hashing_dim;   /* the hashing embedder's dimension; 0: 384 */
	int no_redact;              /* non-zero: store text unredacted (tests, trusted data) */
	/* ---- version 2 ---- */
	/* The principal using the handle (auth.h): JSON {"tenant","id",
	 * "roles"}, copied. Reads (get, search, context, stats) need a role
	 * granting memory "read" of the namespace, writes (put, forget,
	 * episodes, purge) "write"; denied calls fail with COG_EDENIED. NULL:
	 * the host itself, which may do anything. */
	const char *principal;
} cog_memory_options;

#define COG_MEMORY_OPTIONS_VERSION 2
#define COG_MEMORY_OPTIONS_INIT { COG_MEMORY_OPTIONS_VERSION, 0, 0, 0, 0.0, \
	NULL, 0, 0, NULL }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_memory_options_init(cog_memory_options *options,
                                    unsigned int version);

/*
 * Open the memory of namespace `ns` over the context's storage (the
 * context's backend; an in-memory store when it has none): cog_memory_open()
 * with the default options, cog_memory_open_with() with `options` (copied;
 * NULL: defaults). Opening stores nothing and does not read the
 * namespace; the vector index loads at the first search or put that needs it.
 * Errors: COG_EINVAL (NULL argument, a malformed namespace: the message says
 * which segment and why, bad options), COG_EVERSION, COG_ENOMEM.
 */
COG_API int cog_memory_open(cog_memory **out, cog_ctx *ctx, const char *ns);
COG_API int cog_memory_open_with(cog_memory **out, cog_ctx *ctx, const char *ns,
                                 const cog_memory_options *options);

/* Close the handle (working memory goes with it). NULL-safe. */
COG_API void cog_memory_free(cog_memory *mem);

/* The handle's namespace; valid until cog_memory_free(). */
COG_API const char *cog_memory_namespace(const cog_memory *mem);

typedef struct cog_memory_put_options {
	unsigned int version;
	unsigned int layer;     /* one layer bit; 0: COG_MEMORY_LONG_TERM */
	double importance;      /* 0..1; the INIT macro and _init() set 0.5 */
	/* Time to live in ms: 0: the layer's default (short-term: the
	 * handle's short_term_ttl_ms; other layers: none); > 0: expire then
	 * (any stored layer). */
	int64_t ttl_ms;
	const char *metadata;   /* NULL or a JSON object, stored as given */
	/* The caller's own embedding (dim floats) instead of the embedder's;
	 * its dimension must match the index (COG_EINVAL otherwise).
	 * Recorded as "host:<embed_model>" (embed_model NULL: "host", at most
	 * 122 bytes); such vectors are never re-embedded. */
	const float *vector;
	size_t dim;
	const char *embed_model;
	int no_dedupe;          /* non-zero: always a new memory */
} cog_memory_put_options;

#define COG_MEMORY_PUT_OPTIONS_VERSION 1
#define COG_MEMORY_PUT_OPTIONS_INIT { COG_MEMORY_PUT_OPTIONS_VERSION, 0, 0.5, \
	0, NULL, NULL, 0, NULL, 0 }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_memory_put_options_init(cog_memory_put_options *options,
                                        unsigned int version);

/*
 * Remember `text` (options may be NULL: long-term, importance 0.5). *id (may
 * be NULL) gets the memory's id: a number below 2^53, unique in the storage.
 * Returns 0 for a new memory, COG_MEMORY_MERGED when it merged into a near
 * duplicate (*id is then the existing memory's id). Episodic memories are
 * never merged. Text is redacted first (see above), and so is the metadata
 * of every stored layer: each object key, each string value and each
 * integer of 13..19 digits (replaced by the redacted text as a string, e.g.
 * "[CARD]"); metadata with nothing to redact is stored byte for byte.
 * Errors: COG_EINVAL (NULL or empty text, invalid UTF-8, metadata that is not
 * a JSON object: the message has the position, an unknown layer, importance
 * outside 0..1, negative ttl, a vector of the wrong dimension or with
 * non-finite values, a text without any letter or digit when the hashing
 * embedder makes the vector), COG_ERANGE (text over max_text_bytes), COG_EUNAVAILABLE
 * (embedder "llm" and the router cannot embed), storage errors.
 */
COG_API int cog_memory_put(cog_memory *mem, const char *text,
                           const cog_memory_put_options *options, uint64_t *id);

/*
 * The same from JSON (bindings, import files):
 * {"text":"...","metadata":{...},"layer":"long_term"|"short_term"|"working"|
 *  "episodic","importance":0.5,"ttl_ms":n,"vector":[...],"embed_model":"..."}
 * Unknown members are refused (COG_EINVAL naming them).
 */
COG_API int cog_memory_put_json(cog_memory *mem, const char *item_json,
                                uint64_t *id);

/*
 * One memory of this namespace as JSON, to cog_free():
 * {"id":n,"namespace":"...","layer":"long_term","text":"...","metadata":{...},
 *  "importance":0.5,"created_at":ms,"updated_at":ms,"expires_at":ms|null,
 *  "embed_model":"hash-384","dim":384}
 * Errors: COG_ENOTFOUND (no such id in this namespace, or expired).
 */
COG_API int cog_memory_get(cog_memory *mem, uint64_t id, char **json);

/* Forget one memory of this namespace (any layer). COG_ENOTFOUND if absent. */
COG_API int cog_memory_forget(cog_memory *mem, uint64_t id);

/*
 * Forget every memory of this namespace that matches filter_json:
 * {"metadata":{"topic":"billing"},"layers":["short_term"],"since":ms,
 *  "until":ms} (all present members must hold), or {"all":true} for the whole
 * namespace. An empty filter is refused rather than taken as "all".
 * *count (may be NULL) gets how many were forgotten.
 */
COG_API int cog_memory_forget_where(cog_memory *mem, const char *filter_json,
                                    size_t *count);

/*
 * Search. query_json:
 * {"text":"...",              keyword and (embedded) vector query
 *  "vector":[...],            a vector query of the index's dimension
 *  "k":10,                    1..1000, default 10
 *  "layers":["long_term",...] default: every layer
 *  "metadata":{"topic":"billing"},  members that must be equal
 *  "since":ms, "until":ms,    created_at range
 *  "inherit":false,           also search the ancestor namespaces
 *  "weights":{"keyword":1,"vector":1,"recency":0.2,"importance":0.3},
 *  "half_life_ms":2592000000} recency half-life, default 30 days
 * At least one of text and vector. Result, to cog_free():
 * {"results":[{"id":n,"namespace":"...","layer":"...","text":"...",
 *   "metadata":{...},"importance":x,"created_at":ms,"score":x,
 *   "signals":{"keyword":{"rank":1,"bm25":x},"vector":{"rank":2,"cosine":x},
 *              "recency":x,"importance":x}}],
 *  "embedder":"hash-384"}
 * A signal is present only when that list found the memory. Working memories
 * are searched too (keyword and vector) when the layers include them. A
 * namespace with no memories gives an empty list, not an error. Query text is
 * never interpreted as query syntax.
 */
COG_API int cog_memory_search(cog_memory *mem, const char *query_json,
                              char **result_json);

/*
 * Append an episode (episodic layer): event_json is an object with at least
 * "kind" ("task", "llm_call", "tool_call", "outcome", or the host's own), and
 * optionally "plan", "task", "agent", "summary", "cost", "duration_ms",
 * "status", and anything else; it is stored as the memory's metadata, and
 * the text is "summary" or one made from kind, task and status.
 */
COG_API int cog_memory_record_episode(cog_memory *mem, const char *event_json,
                                      uint64_t *id);

/*
 * Assemble the context of an agent turn within a token budget. request_json:
 * {"budget_tokens":4000,                 required, >= 64
 *  "instructions":"...",                 system text, always kept
 *  "task":"...",                         always kept
 *  "dependencies":[{"task":"id","result":"..."}],
 *  "query":"...",                        retrieval query (default: task)
 *  "k":8,                                memories to retrieve
 *  "turns":[{"role":"user"|"assistant"|"tool","content":"..."}]
 *                                        default: this handle's working turns
 *  "summarize":true}                     default true: see below
 * Answer, to cog_free(): {"messages":[LLM request messages],"tokens":n,
 *  "budget_tokens":n,"sections":{"instructions":n,"task":n,"dependencies":n,
 *  "memories":n,"turns":n},"memories":[ids],"summarized_turns":n,
 *  "summary_id":n|null,"truncated_turns":n,"dropped":{"memories":n,
 *  "dependencies":n,"turns":n,"newest_turn_bytes":n,"dependency_bytes":n}}
 * Each section's count is rounded up on its own, so they may add up to a
 * token or two more than "tokens"; "tokens" never exceeds the budget (by
 * the handle's estimator).
 * Retrieved memories and dependency results are marked as data, not
 * instructions. When the turns do not fit, the oldest are summarised through
 * the context's LLM router (role "summarizer": without a route of that name
 * the router serves it as any role it has no route for) and the summary is
 * stored in short-term memory ({"kind":"summary","turns":n}); without an LLM
 * (or when it fails) the oldest turns are cut and a marker says how many.
 * The newest turn and the instructions and task are never dropped; if they
 * exceed the budget the newest turn is shortened from its start, with a
 * marker. COG_EBUDGET when the instructions and task alone exceed it (the
 * message gives the sizes).
 */
COG_API int cog_memory_context(cog_memory *mem, const char *request_json,
                               char **result_json);

/*
 * Token estimation. cog_memory_estimate_tokens() estimates text (or, when
 * the text is an LLM request's JSON object, its messages) with the handle's
 * calibrated ratio. cog_memory_calibrate() teaches it from a provider's
 * usage: the request that was sent and the input_tokens it reported.
 * Estimates and their error are in cog_memory_stats().
 */
COG_API int cog_memory_estimate_tokens(cog_memory *mem, const char *text,
                                       size_t *tokens);
COG_API int cog_memory_calibrate(cog_memory *mem, const char *request_json,
                                 uint64_t input_tokens);

/* Delete this storage's expired memories now (every namespace: expiry is
 * not private). *purged (may be NULL) gets the count. A handle opened with
 * a principal needs an admin role (COG_AUTH_ADMIN) for it, since the purge
 * reaches beyond its namespace: COG_EDENIED otherwise. */
COG_API int cog_memory_purge(cog_memory *mem, size_t *purged);

/*
 * Statistics as JSON, to cog_free(): {"namespace","embedder","dim",
 * "index_rows","working":{"items":n,"tokens":n},"puts":n,"merged":n,
 * "searches":n,"redactions":{"total":n,"email":n,...},
 * "tokens":{"ratio":x,"samples":n,"mean_abs_error":x}}
 */
COG_API int cog_memory_stats(cog_memory *mem, char **json);

/* ---- redaction (the context's rules; used by memory and the log) ---- */

/*
 * Configure ctx's redaction. config_json:
 * {"rules":{"email":true,"phone":true,"card":true,"iban":true,"api_key":true,
 *           "jwt":true,"private_key":true},    built-ins, all on by default
 *  "patterns":[{"name":"ticket","regex":"TCK-[0-9]{6}",
 *               "replacement":"[TICKET]"}]}   the host's own (PCRE2, UTF)
 * A pattern's name is 1..64 letters, digits, '_', '-' or '.', not a built-in
 * rule's name nor "total"; its regex at most 4096 bytes and unable to match
 * the empty string; its replacement literal text of at most 256 bytes
 * (default "[NAME]", the name in upper case); at most 64 patterns. When
 * matches overlap the leftmost wins, then the longest, then the host's
 * patterns before the built-ins; a losing match's part past the winner is
 * replaced too, so no piece of a secret survives.
 * Replaces the previous configuration at once (calls in flight finish with
 * the old one); a failed call keeps the old one. Errors: COG_EINVAL (unknown
 * rule, a pattern that does not compile: the message has the pattern's name
 * and the offset).
 */
COG_API int cog_redact_configure(cog_ctx *ctx, const char *config_json);

/*
 * Redact text with ctx's rules (ctx NULL: the built-ins). *out gets a copy to
 * cog_free(); *count (may be NULL) the number of replacements. Each match is
 * replaced by "[EMAIL]", "[PHONE]", "[CARD]" (only numbers that pass the Luhn
 * check), "[IBAN]" (only valid mod-97 check digits), "[API_KEY]", "[JWT]",
 * "[PRIVATE_KEY]" or the pattern's replacement. Counts add to ctx's totals.
 * Phone numbers need a '+' country code or a recognisable national shape
 * (separators, parentheses), so bare digit runs, dates, versions and IPs are
 * left alone. COG_EINVAL for text that is not UTF-8 (the message has the
 * offset).
 */
COG_API int cog_redact(cog_ctx *ctx, const char *text, char **out, size_t *count);

/* ctx's redaction totals as JSON, to cog_free(): {"total":n,"email":n,...},
 * the host's patterns by name next to the built-ins. */
COG_API int cog_redact_stats(cog_ctx *ctx, char **json);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_MEMORY_H */
