/*
 * Private interface of lib/llm: what its files share. Not installed.
 *
 *   backend.c    cog_llm handles: the vtable wrapper (checks requests and
 *                answers once for every backend)
 *   request.c    the request shape: parse, check, normalise
 *   response.c   the response shape: check a backend's answer
 *   canon.c      canonical JSON and request keys (recorder, replay, cache)
 *   sse.c        the WHATWG event-stream reader
 *   ndjson.c     the newline-delimited JSON reader
 *   assemble.c   answers assembled from pieces (streams and whole bodies)
 *   provider*.c  the built-in providers (provider_int.h)
 *   record.c, replay.c
 *   router*.c, cache.c, endpoint.c   the router of a context (router_int.h)
 */
#ifndef COG_LLM_INT_H
#define COG_LLM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core_int.h"
#include "cognition/llm.h"

/*
 * The built-in providers' members as trees, beside the public vtable (which
 * they also fill, for anyone calling it): backend.c hands them the request
 * it has just checked and gets their answer back as a tree, with no print
 * and parse in between. The request is the wrapper's, theirs to change
 * (the provider sets its default model); *response is theirs to the caller
 * (cJSON_Delete), NULL on failure. Host backends have none and keep the
 * text members.
 */
typedef struct llm_tree_ops {
	int (*chat)(void *self, cJSON *request, cog_llm_call *call, cJSON **response);
	int (*embed)(void *self, cJSON *request, cog_llm_call *call, cJSON **response);
} llm_tree_ops;

struct cog_llm {
	cog_llm_vtable vt;            /* copied; members past vt.version NULL */
	const llm_tree_ops *tree;     /* built-in providers; NULL: text only */
};

/*
 * The router's entry (backend.c): `request` already checked (llm_request_
 * check, or llm_embed_request_parse for embed), the caller's copy, which a
 * built-in provider may change (its default model); the answer checked
 * against the response shape, as a tree in *response (cJSON_Delete). A host
 * backend gets the request printed once and its answer parsed once. Same
 * errors as cog_llm_backend_chat / cog_llm_backend_embed.
 */
int llm_backend_call_tree(cog_llm *llm, bool embed, cJSON *request, cog_llm_call *call,
                          cJSON **response);

/* ---- request.c ---- */

/*
 * Parse request text and check it against the request shape; on success
 * *out is the normalised request:
 *   - tools in OpenAI's shape ({"type":"function","function":{name,
 *     description,parameters}}) become {"name","description","input_schema"};
 *   - "stop" as a string becomes an array of one;
 *   - assistant tool_calls in OpenAI's shape ({"id","type","function":
 *     {"name","arguments":"text"}}) become {"id","name","arguments":{...}};
 *   - "tool_choice" {"type":"function","function":{"name"}} becomes
 *     {"name"}.
 * COG_EINVAL naming `fn`, the member (JSON pointer) and what is wrong.
 * Checks: messages a non-empty array; roles system|user|assistant|tool;
 * content a string or an array of {"type":"text","text"} parts (made one
 * string), null only for assistant messages with tool calls, any JSON
 * value for tool messages (printed to a string); tool messages have tool_call_id; tool names
 * ^[A-Za-z0-9_-]{1,64}$; input_schema objects; temperature 0..2;
 * max_tokens 1..10^7; stop at most 16 strings; metadata an object.
 */
int llm_request_parse(cJSON **out, const char *json, const char *fn);
/* Same checks on an already parsed request (normalised in place). */
int llm_request_check(cJSON *request, const char *fn);
/* {"model"?, "input": string | [strings, 1..2048]} → input always an array. */
int llm_embed_request_parse(cJSON **out, const char *json, const char *fn);
/* The text of a request's messages, for estimates: sum of content bytes,
 * tool-call arguments and tool definitions. */
size_t llm_request_text_bytes(const cJSON *request);
/* max_tokens of a request, or fallback. */
unsigned int llm_request_max_tokens(const cJSON *request, unsigned int fallback);

/* ---- response.c ---- */

/* Check a backend's chat answer against the response shape (message,
 * finish_reason, usage numbers >= 0); fills absent optional members
 * (usage zeros, tool_calls absent when empty). COG_EPROTO naming `who`. */
int llm_response_check(cJSON *response, const char *who);
/* Same for an embedding answer: data an array of equal-length number
 * arrays, one per input (n_inputs). */
int llm_embed_response_check(cJSON *response, size_t n_inputs, const char *who);

/* ---- canon.c ---- */

/* Canonical JSON text (cog_free): object members sorted by name (byte
 * order), no whitespace, numbers as cJSON prints them; with
 * drop_metadata the top-level "metadata" member is left out. NULL on OOM. */
char *llm_canonical_json(const cJSON *item, bool drop_metadata);
/* Key of a request: hex BLAKE2b-256 of kind ("chat"|"embed"), a NUL, and
 * the canonical request without metadata. */
int llm_request_key(const cJSON *request, const char *kind, char out[65]);

/* ---- sse.c: text/event-stream (WHATWG HTML, "Server-sent events") ---- */

/*
 * One dispatched event. `type` is the event name ("message" when none was
 * given); `data` is the data buffer with its final LF removed, NUL-
 * terminated; `id` is the last event id. All valid during the call only.
 * An event with no data line is not dispatched (as the spec says), but
 * "data:" alone is dispatched with data "" (MCP servers send such events
 * before the real one): callers skip what they do not want. Return 0 to go on,
 * a negative status to stop the reader with it.
 */
typedef int (*llm_sse_fn)(const char *type, const char *data, size_t data_len,
                          const char *id, void *user_data);

typedef struct llm_sse {
	llm_sse_fn fn;
	void *user_data;
	cog_buf line;                 /* the line being read */
	cog_buf data;                 /* data buffer of the event */
	cog_buf type;                 /* event type buffer */
	cog_buf id;                   /* last event id */
	long retry_ms;                /* last valid retry: field, -1 none */
	size_t max_line;              /* 0: 16 MiB; longer lines: COG_ERANGE */
	bool bom_checked;
	bool last_was_cr;             /* a CR ended the last line: skip one LF */
	int status;                   /* sticky error */
} llm_sse;

void llm_sse_init(llm_sse *sse, llm_sse_fn fn, void *user_data);
/* Feed bytes as they arrive (any split, even inside a CRLF). */
int llm_sse_feed(llm_sse *sse, const char *bytes, size_t len);
/* End of stream: an incomplete last event is discarded (per the spec);
 * returns the sticky status. */
int llm_sse_finish(llm_sse *sse);
void llm_sse_dispose(llm_sse *sse);

/* ---- ndjson.c: one JSON value per line ---- */

/* One non-empty line, NUL-terminated (CR before LF removed; blank lines
 * skipped). */
typedef int (*llm_ndjson_fn)(const char *line, size_t len, void *user_data);

typedef struct llm_ndjson {
	llm_ndjson_fn fn;
	void *user_data;
	cog_buf line;
	size_t max_line;              /* 0: 16 MiB; longer: COG_ERANGE */
	int status;
} llm_ndjson;

void llm_ndjson_init(llm_ndjson *nd, llm_ndjson_fn fn, void *user_data);
int llm_ndjson_feed(llm_ndjson *nd, const char *bytes, size_t len);
/* A last line without LF is delivered here. */
int llm_ndjson_finish(llm_ndjson *nd);
void llm_ndjson_dispose(llm_ndjson *nd);

/* ---- assemble.c: an answer built from pieces ---- */

typedef struct llm_asm_call {
	int index;                    /* the provider's index (or order seen) */
	char *id;                     /* NULL until known; made up if never */
	char *name;
	cog_buf args;                 /* argument text pieces, concatenated */
	bool args_object;             /* args came whole as a JSON object */
} llm_asm_call;

typedef struct llm_asm {
	cog_llm_call *call;           /* events go to call->on_event; may be NULL */
	cog_buf text;
	llm_asm_call *calls;
	size_t n_calls, cap_calls;
	char *finish_reason;          /* provider's, mapped by the provider */
	char *model;
	uint64_t input_tokens, output_tokens, cached_tokens;
	bool have_usage;
	cog_buf event;                /* scratch for event JSON */
	int status;
} llm_asm;

void llm_asm_init(llm_asm *a, cog_llm_call *call);
void llm_asm_dispose(llm_asm *a);
/* Append text; emits {"type":"text","text":...} when streaming. */
int llm_asm_text(llm_asm *a, const char *s, size_t len);
/* A tool call's first piece (id and name may be NULL when a later piece
 * brings them); emits the tool_call event. Same index again: fills what
 * was missing. */
int llm_asm_tool_start(llm_asm *a, int index, const char *id, const char *name);
/* A piece of a tool call's argument text (the call must have started). */
int llm_asm_tool_args(llm_asm *a, int index, const char *s, size_t len);
/* Whole arguments as a JSON object (Ollama); printed into args. */
int llm_asm_tool_args_object(llm_asm *a, int index, const cJSON *object);
int llm_asm_set_finish(llm_asm *a, const char *finish_reason);
int llm_asm_set_model(llm_asm *a, const char *model);
/*
 * The response shape. Argument text "" (or only whitespace) means {}; text
 * that is not a JSON object gives "arguments":null plus "arguments_text".
 * Calls without an id get "call_<index>". finish_reason: the one set, else
 * "tool_calls" when there are calls, else "stop". latency_ms and provider
 * are added by the caller.
 */
int llm_asm_finish(llm_asm *a, cJSON **response);

/* ---- events.c: stream events ---- */

/* Hand the event in e to call->on_event (which must be set): 0, or the
 * negative status the callback stopped the call with (message set). Sets
 * call->streamed. COG_ENOMEM when e failed. */
int llm_event_send(cog_llm_call *call, const cog_buf *e);
/* {"type":"tool_call","index":i[,"id"][,"name"],"arguments":"<text>"} into
 * e (cleared first); NULL members are left out. */
void llm_event_put_call(cog_buf *e, int index, const char *id, const char *name,
                        const char *args, size_t args_len);
/* "call_<index>": the id of a call that never got one, the same in events
 * and answers. */
void llm_made_up_call_id(char out[24], int index);
/* A finished answer (response shape) as stream events, for answers that
 * were not streamed from a server (the cache, replays): one text event
 * with the whole content, then one tool_call event per call with its id,
 * name and whole arguments text (compact JSON, or arguments_text as it
 * is). Sets call->streamed when an event went out; a negative status from
 * on_event is returned. Nothing happens when call or on_event is NULL. */
int llm_emit_response_events(cog_llm_call *call, const cJSON *response);

/* ---- shared by the router and the providers ---- */

/* Sleep up to ms, waking every 10 ms to poll cancel (call's is_canceled
 * and ctx's flag; either may be NULL). COG_ECANCELED when canceled. */
int llm_sleep_cancelable(struct cog_ctx *ctx, const cog_llm_call *call,
                         unsigned int ms);

#endif /* COG_LLM_INT_H */
