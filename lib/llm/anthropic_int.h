/*
 * What the files of the Anthropic Messages wire format share: anthropic.c
 * (the request body, the wire table), anthropic_turns.c (the body's system
 * and turns), anthropic_answer.c (whole answers) and anthropic_stream.c
 * (streams). Not installed.
 */
#ifndef COG_LLM_ANTHROPIC_INT_H
#define COG_LLM_ANTHROPIC_INT_H

#include "provider_int.h"

/* Tool names are at most 64 bytes (request.c checks ours; Anthropic's
 * limit is larger). */
#define ANTHROPIC_TOOL_NAME_MAX 64

/*
 * Structured output rides on a forced tool: response_format json_schema
 * becomes a tool named after the schema with the schema as its
 * input_schema, json_object one named "json" that takes any object, and
 * tool_choice names it. The answer's tool_use of that tool is the content.
 */
typedef struct llm_anthropic_forced {
	const char *name;             /* NULL: no structured output */
	const char *description;      /* the schema's, may be NULL */
	const cJSON *schema;          /* NULL: any object */
} llm_anthropic_forced;

/* The forced tool of a request (borrowed from it). COG_EINVAL when the
 * schema name is not a usable tool name. */
int llm_anthropic_forced_tool(const cJSON *request, llm_anthropic_forced *out);

/* Our finish_reason for a stop_reason (NULL: none to set). When the
 * forced tool's tool_use came, it is the answer, so "tool_use" is a normal
 * stop. */
const char *llm_anthropic_finish_reason(const char *stop_reason, bool forced_came);


/* Usage numbers seen so far (a stream brings them in two events). */
typedef struct llm_anthropic_usage {
	double input, cache_write, cache_read, output;
	bool any;
} llm_anthropic_usage;

/* Take the numbers of a usage object (absent ones keep their values) and
 * put the totals into the assembly. */
void llm_anthropic_usage_take(llm_anthropic_usage *u, const cJSON *usage, llm_asm *a);

/* The forced tool's input text as the content: compact JSON when it is a
 * JSON object, "{}" when empty, else as sent (the router's schema check
 * then tells the model what is wrong). */
int llm_anthropic_forced_content(llm_asm *a, const char *text, size_t len);

/* anthropic_turns.c: the request's messages as the body's "system" (when
 * there is any system text) and "messages". COG_EINVAL when no turn is
 * left (Anthropic needs at least one). */
int llm_anthropic_turns(const cJSON *request, cJSON *body);

/* anthropic_answer.c */
int llm_anthropic_chat_parse(const llm_provider *p, const cJSON *request,
                             const cJSON *answer, llm_asm *a);
/* anthropic_stream.c */
int llm_anthropic_stream_event(const llm_provider *p, void *state, const char *type,
                               const char *data, size_t len, llm_asm *a, bool *done);
void *llm_anthropic_stream_state_new(const llm_provider *p, const cJSON *request);
void llm_anthropic_stream_state_free(void *state);

#endif /* COG_LLM_ANTHROPIC_INT_H */
