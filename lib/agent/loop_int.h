/*
 * What the files of the agent loop share (loop.c, loop_request.c,
 * loop_tools.c): the state of one run. Not installed; only those files.
 */
#ifndef COG_AGENT_LOOP_INT_H
#define COG_AGENT_LOOP_INT_H

#include "agent_int.h"

typedef struct loop_run {
	cog_agent *a;
	agent_env *env;
	const cJSON *task;
	cog_memory *mem;           /* retrieval, estimates */
	cJSON *messages;           /* the conversation so far (only appended to) */
	/* The running token estimate of messages (loop_context.c): milli-tokens
	 * of the request with every message up to est_last, unscaled. */
	uint64_t est_milli;
	const cJSON *est_last;
	cJSON *tools;              /* tools offered (request shape), or NULL */
	bool handoff;              /* "handoff" is among them */
	cog_tool_call_options tool_options; /* the agent's: name, allow-list */
	unsigned int turn;         /* the current one, 1-based */
	unsigned int max_turns;
	unsigned int tool_calls, revisions;
	uint64_t input_tokens, output_tokens;
	double cost;
	cJSON *critiques;          /* array of texts */
	/* Flagged content entered the prompt (loop_inject.c): side-effecting
	 * tools follow the policy from then on. `taint` is env->taint (shared
	 * with the handoffs' sub-runs, both ways) or own_taint. */
	agent_taint own_taint;
	agent_taint *taint;
} loop_run;

/* Fill r->messages from the memory context: the definition's instructions
 * and the data rule, the task's prompt, its dependencies and context files
 * (read with file_read), retrieved memories. Opens r->mem. */
int loop_first_messages(loop_run *r);

/* Fill r->tools: the registry's tools matching the definition's globs in
 * the request shape, plus the handoff tool when the agent may hand off. */
int loop_tools_offered(loop_run *r);

/* The request of this turn: the messages, tools, max_tokens (the
 * definition's, lowered to what the budget leaves), temperature. */
int loop_build_request(loop_run *r, cJSON **request);

/* Shorten the oldest tool results until the messages fit the definition's
 * context_tokens (each with a marker). Never fails the run. */
void loop_fit_context(loop_run *r);

/* Run the tool calls of one answer (parallel when several), appending one
 * "tool" message per call to r->messages, in call order. COG_EPENDING
 * (a call waits for approval), COG_ECANCELED, COG_EIO (journal), COG_ENOMEM
 * stop the run. `span`: the turn's span, entered by every thread. */
int loop_run_tools(loop_run *r, const cJSON *tool_calls, cog_span *span);

/* "<data source="SOURCE">" + text with "<data" and "</data" escaped +
 * "</data>", as a cog_malloc'd string; NULL on OOM. */
char *loop_mark_data(const char *source, const char *text);

/* Scan text[0..len), data from `source` ("tool:NAME", "memory:ID",
 * "dependency:TASK", "file:PATH") about to enter the prompt; flagged, it
 * taints the run (event "injection.flagged", a warning, span attributes).
 * COG_ENOMEM. */
int loop_inject_scan(loop_run *r, const char *source, const char *text, size_t len);
/* The same for a tool's result: each string and object key of `value`
 * alone (line starts inside strings count as line starts), all of them
 * joined (an instruction split across strings), and `shown`, the text the
 * model gets. Any thread. */
int loop_inject_scan_json(loop_run *r, const char *source, const cJSON *value,
                          const char *shown);
/* Scan what the first messages hold that is not the host's: the bodies of
 * <dependency>, <memory> and <summary> blocks, earlier turns (messages
 * after the task), and the task itself when env->prompt_is_data. */
int loop_inject_scan_context(loop_run *r);
/* Whether the run is tainted (now), and the cog__tool_call_ex() flags of
 * its policy (0 while untainted). Any thread. */
bool loop_tainted(const loop_run *r);
unsigned int loop_inject_flags(const loop_run *r);

/* A token count read from an answer or a journal record: true with *out
 * when v is a number 0..9e15 (finite), else false with *out 0. */
bool agent_usage_number(const cJSON *v, uint64_t *out);

#endif /* COG_AGENT_LOOP_INT_H */
