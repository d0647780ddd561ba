/*
 * cog_memory_context's parts (not installed):
 *
 *   context.c          the request checked member by member, the turns
 *                      (given, or the handle's working items), the order of
 *                      the work, the answer
 *   context_text.c     escaping data so it cannot end its wrapper, cutting
 *                      text to a number of tokens on a UTF-8 boundary
 *   context_data.c     dependency results and retrieved memories as data
 *                      messages (<memory>, <dependency> pieces)
 *   context_turns.c    the newest turn (shortened when it must be), which
 *                      older turns fit, and the marker for those cut
 *   context_summary.c  older turns summarised through the LLM router into
 *                      short-term memory
 *
 * Everything is planned in milli-tokens (tokens.h), which add up exactly:
 * a message is its base (overhead and role) plus its content, and content
 * made of parts joined by newlines is the sum of the parts and newlines.
 * The request fits when its sum is at most `cap`, the largest sum that
 * scales to budget_tokens with the handle's ratio.
 */
#ifndef COG_MEMORY_CONTEXT_INT_H
#define COG_MEMORY_CONTEXT_INT_H

#include "tokens.h"

/* Markers put where text was cut. */
#define CTX_CUT_MARK "[start of this turn omitted]"
#define CTX_REST_MARK "[rest omitted]"

/* A piece of data for a data message: "<memory id=..>\n...\n</memory>". */
typedef struct ctx_piece {
	char *text;
	size_t len;
	uint64_t milli;
	uint64_t id;             /* memories: the memory's id */
	bool in;                 /* chosen */
} ctx_piece;

/* A data message: a header line, then the chosen pieces, one per line. */
typedef struct ctx_block {
	const char *header;
	ctx_piece *pieces;
	size_t n, n_in;
	uint64_t milli;          /* the message's estimate; 0 while empty */
} ctx_block;

typedef struct ctx_assembly {
	cog_memory *m;
	/* the request */
	size_t budget;
	const char *instructions;  /* NULL when absent or empty */
	const char *task;
	const char *query;         /* NULL: the task */
	const cJSON *dependencies; /* array or NULL */
	unsigned int k;
	bool summarize;
	bool turns_given;          /* false: the working items */
	/* the turns, oldest first: message objects (owned) and estimates */
	cJSON *turns;
	size_t n_turns;
	cJSON **turn;              /* turn[i]: the i-th item of turns */
	uint64_t *turn_milli;
	/* the plan */
	uint64_t cap;              /* budget in milli-tokens */
	uint64_t used;             /* chosen so far, request overhead included */
	uint64_t marker_milli;     /* kept for the history message (n_turns > 1) */
	cJSON *instructions_msg, *task_msg, *history_msg;  /* owned */
	uint64_t instructions_milli, task_milli, history_milli;
	ctx_block deps, memories;
	size_t first_kept;         /* turns[first_kept..] go in verbatim */
	/* the report */
	size_t deps_dropped, memories_dropped, summarized, truncated;
	size_t newest_cut_bytes, dependency_cut_bytes;
	uint64_t summary_id;       /* 0: none */
} ctx_assembly;

/* ---- context_text.c ---- */

/* Append text with every '<' that would open or close one of our tags
 * (memory, dependency, summary, turn; any case, spaces or a '/' between)
 * written as "&lt;", so data can never end its wrapper or forge one. */
int mem_ctx_escape(cog_buf *b, const char *text, size_t len);
/* Append an attribute value with & < > " escaped, at most 200 bytes. */
int mem_ctx_escape_attr(cog_buf *b, const char *s);
/* The last UTF-8 character boundary of s[0..len) at or before p. */
size_t mem_ctx_boundary(const char *s, size_t len, size_t p);
/* The longest prefix of s[0..len) (ending on a UTF-8 boundary) whose
 * estimate is at most max_milli; its length. */
size_t mem_ctx_fit_prefix(const char *s, size_t len, uint64_t max_milli);
/* The shortest cut from the start of s[0..len) (on a UTF-8 boundary) that
 * leaves an estimate of at most max_milli; the offset where the rest starts. */
size_t mem_ctx_fit_suffix(const char *s, size_t len, uint64_t max_milli);

/* ---- context_data.c ---- */

/* Choose the dependency results that fit (a result too long for the room
 * left keeps its start); adds to a->used. */
int mem_ctx_dependencies(ctx_assembly *a);
/* Retrieve up to k memories for the query (or the task) as pieces. */
int mem_ctx_retrieve(ctx_assembly *a);
/* Choose more of the retrieved memories, in rank order, each only when it
 * fits within `room` (milli); returns what they took. */
uint64_t mem_ctx_take_memories(ctx_assembly *a, uint64_t room);
/* The data message of a block (NULL content when empty: *out NULL). */
int mem_ctx_block_message(const ctx_block *blk, cJSON **out);
void mem_ctx_block_dispose(ctx_block *blk);

/* ---- context_turns.c ---- */

/* Fit the fixed part: instructions, task, the newest turn (shortened from
 * its start with CTX_CUT_MARK when it must be) and, with older turns, room
 * for the marker. COG_EBUDGET when even that cannot fit. */
int mem_ctx_fixed(ctx_assembly *a);
/* Choose the older turns that fit in `room` (milli, the marker's share
 * included), summarising or marking the rest; adds to a->used. */
int mem_ctx_turns(ctx_assembly *a, uint64_t room);
/* The first index of turns[0..newest) that fit in room, newest first and
 * contiguous, never starting with a tool result whose call was cut. */
size_t mem_ctx_first_fitting(const ctx_assembly *a, uint64_t room);

/* ---- context_summary.c ---- */

/* Summarise turns[0..first) into a history message of at most `room`
 * milli through the router and store it in short-term memory. 0 and the
 * history message set, or a failure (reported, nothing changed) after
 * which the caller cuts the turns instead. */
int mem_ctx_summarize(ctx_assembly *a, size_t first, uint64_t room);

#endif
