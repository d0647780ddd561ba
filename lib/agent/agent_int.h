/*
 * Private interface of the agent module (public face: cognition/agent.h).
 *
 *   registry.c    definitions: parse, check, defaults, define/remove/list,
 *                 capability matching; the module state on the context
 *   pool.c        instances: spawn, free (back to the pool), terminate,
 *                 list, state changes and their events
 *   budget.c      the budget tree (context ▸ plan ▸ task), reservations,
 *                 settling
 *   budget_report.c  cog_budget_report, cog_ctx_set_budget, limits as
 *                 JSON and numbers, the input-token bound of a request
 *   loop.c        the agent loop: turns, stop conditions, the result
 *   loop_request.c   one turn's LLM request: context assembly (memory),
 *                 tools offered, data marking, budget reservation, the call
 *   loop_tools.c  the tool calls of one answer, in parallel
 *   journal.c     the agent journal: record and replay of LLM answers and
 *                 tool results across a crash (journal_int.h)
 *   journal_commit.c  the journals' group commit (records of concurrent
 *                 runs share a storage transaction)
 *   critic.c      schema, host rules, LLM review; cog_agent_set_critic
 *   handoff.c     the "handoff" tool: delegation by capability
 *   executor.c    cog_task_run_agent, cog_agent_run and its options
 *
 * Not installed.
 */
#ifndef COG_AGENT_INT_H
#define COG_AGENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core_int.h"
#include "trace_int.h"
#include "cognition/agent.h"
#include "cognition/llm.h"
#include "cognition/memory.h"

/* ---- limits (budget.c) ---- */

typedef struct budget_limits {
	uint64_t max_tokens;       /* 0: unlimited */
	double max_cost;           /* 0: unlimited */
	uint64_t max_duration_ms;  /* 0: unlimited */
} budget_limits;

/* Read {"max_tokens","max_cost","max_duration_ms"} (NULL: all unlimited).
 * COG_EINVAL naming `what` and the member. */
int budget_limits_from_json(budget_limits *out, const cJSON *json, const char *what);
/* A count limit from a number that may have a fraction (a plan's
 * budget): rounded up, at least 1 when x > 0 (so 0.5 is not "unlimited"),
 * 0 when x is not positive, saturating at UINT64_MAX. */
uint64_t budget_count_up(double x);
/* Limits from plain numbers (a plan's budget), counts rounded up. */
void budget_limits_from_numbers(budget_limits *out, double max_tokens, double max_cost,
                                double max_duration_ms);
/* The same as a new JSON object (unlimited members left out). */
cJSON *budget_limits_to_json(const budget_limits *limits);

/* ---- definitions (registry.c) ---- */

typedef struct agent_def {
	atomic_uint refs;          /* the registry's + each instance's */
	char *name, *role, *description, *instructions, *model;
	char **capabilities;
	size_t n_capabilities;
	char *tools;               /* JSON array text of globs ("[]": none) */
	budget_limits budget;
	unsigned int max_turns, max_tokens, context_tokens, memory_k, max_idle;
	double temperature;        /* < 0: not set */
	bool handoff;
	bool removed;              /* no longer in the registry (under lock) */
} agent_def;

void agent_def_ref(agent_def *def);
void agent_def_unref(agent_def *def);
/* The definition as JSON, every member filled in. */
cJSON *agent_def_to_json(const agent_def *def);

/* The module's state on the context (slot COG__EXT_AGENTS). */
typedef struct agents_state agents_state;

typedef struct budget_node budget_node;
typedef struct agent_commit agent_commit;  /* journal_commit.c */

struct agents_state {
	cog_ctx *ctx;
	pthread_mutex_t lock;      /* definitions, pools, instance list */
	agent_def **defs;          /* in the order defined */
	size_t n_defs, cap_defs;
	struct cog_agent *instances; /* every live instance (list via next) */

	cog_critic_fn critic;      /* under lock */
	void *critic_ud;

	/* Budgets (budget.c): one lock for the whole tree, so a reservation
	 * checks and takes every level at once. */
	pthread_mutex_t budget_lock;
	budget_node *budget_root;  /* the context's level, never NULL */
	struct budget_agent_usage *agent_usage; /* per definition name */

	agent_commit *commit;      /* the journals' group commit */
};

/* The context's agent state, made (with the default definitions) on first
 * use. COG_ENOMEM. */
int agents_get(cog_ctx *ctx, agents_state **out);
/* The start and end of a public call that reports as JSON (cog_agent_list,
 * cog_agent_definitions, cog_budget_report; `fn` its name): check the
 * arguments, set *json NULL and get the state; then print `doc` (NULL:
 * out of memory) into *json and free it: COG_OK or COG_ENOMEM. */
int agents_report_begin(cog_ctx *ctx, char **json, const char *fn, agents_state **out);
int agents_report_end(cJSON *doc, char **json, const char *fn);
/* The definition named `name`, referenced (agent_def_unref it), or NULL
 * with COG_ENOTFOUND set as the error. */
agent_def *agents_find(agents_state *st, const char *name);
/* The definition for these capabilities (cog_agent_match rules),
 * referenced; `exclude` (may be NULL) is never chosen. NULL with
 * COG_ENOTFOUND set. */
agent_def *agents_match(agents_state *st, const cJSON *capabilities, const char *exclude);

/* ---- instances (pool.c) ---- */

struct cog_agent {
	cog_ctx *ctx;
	agents_state *st;
	agent_def *def;            /* referenced */
	char id[33];
	atomic_int state;          /* cog_agent_state */
	atomic_bool terminate;     /* cog_agent_terminate was called */
	struct cog_agent *next;    /* st->instances */
	struct cog_agent *next_idle; /* its definition's pool (pool.c) */
	bool in_pool;
	/* What it works on and has spent (under st->lock; for cog_agent_list) */
	char plan_id[COG_PLAN_ID_MAX + 1];
	char task_id[COG_TASK_ID_MAX + 1];
	uint64_t turns, input_tokens, output_tokens;
	double cost;
};

/* Change the state and send "agent.state" (task may be NULL). */
void agent_set_state(cog_agent *a, int state, const char *plan_id, const char *task_id);
/* Whether the loop must stop: terminated, or the context canceled. */
bool agent_should_stop(const cog_agent *a);
/* Add one LLM call's usage to the instance's counters (for cog_agent_list). */
void agent_count_usage(cog_agent *a, uint64_t input_tokens, uint64_t output_tokens,
                       double cost);

/* ---- budgets (budget.c) ---- */

/*
 * The node for `key` under `parent` (NULL: the context's root), made with
 * `limits` the first time (a later call with other limits keeps the
 * first ones, except that a node made with none takes the new ones), its
 * wall clock counting from `started_ms` (0: now). Referenced: give it back
 * with budget_node_release(). Keys: a plan id under the root, a task id
 * under a plan, an attempt-local key under a task. COG_ENOMEM.
 */
int budget_node_get(agents_state *st, budget_node *parent, const char *key,
                    const budget_limits *limits, int64_t started_ms, budget_node **out);
void budget_node_release(agents_state *st, budget_node *node);

typedef struct budget_resv {
	budget_node *leaf;         /* NULL: nothing reserved */
	uint64_t tokens;
	double cost;
} budget_resv;

/*
 * Reserve tokens and cost at `leaf` and every level above it, all or
 * nothing. COG_EBUDGET when any level's spent + reserved + this would pass
 * its limit, or its wall time is over (the message names the level, e.g.
 * "plan 'p1' budget: max_tokens 4000: spent 3100, reserved 0, this call
 * needs up to 1200"); the refusal is counted at that level.
 */
int budget_reserve(agents_state *st, budget_node *leaf, uint64_t tokens, double cost,
                   budget_resv *out);
/* Replace the reservation by the actual usage, at every level, and add it
 * to the agent definition's usage (agent may be NULL). */
void budget_settle(agents_state *st, budget_resv *r, uint64_t input_tokens,
                   uint64_t output_tokens, double cost, const char *agent);
/* Drop a reservation that was not used (the call was not made or failed
 * without usage). NULL-safe on an empty reservation. */
void budget_release(agents_state *st, budget_resv *r);
/* Whether `leaf` or a level above it limits money. */
bool budget_has_cost_limit(agents_state *st, budget_node *leaf);
/* Milliseconds of wall time left at `leaf` and above (UINT64_MAX: no
 * limit, 0: over). */
uint64_t budget_remaining_ms(agents_state *st, budget_node *leaf);
/* Tokens left at `leaf` and above, beyond what is spent and reserved
 * (UINT64_MAX: no limit). */
uint64_t budget_remaining_tokens(agents_state *st, budget_node *leaf);

/* Make and free the tree of st (agents_get / the state's destroy). */
int budget_init(agents_state *st);
void budget_dispose(agents_state *st);

/* Upper bound of a chat request's input tokens (see agent.h Budgets): the
 * backend's count when it can count exactly, else UTF-8 bytes of message
 * texts, tool-call arguments and tool definitions, plus 8 per message and
 * 16. */
uint64_t budget_input_bound(cog_ctx *ctx, const cJSON *request);

/*
 * The most a call of `role` (with model override `model`, may be NULL) could
 * cost for input_tokens in and output_tokens out, over every model the
 * route may use (lib/llm: router prices). *priced is false when one of
 * those models has no price (then *cost covers the priced ones only).
 * COG_EUNAVAILABLE when the context has no endpoint.
 */
int cog__llm_worst_cost(cog_ctx *ctx, const char *role, const char *model,
                        uint64_t input_tokens, uint64_t output_tokens,
                        double *cost, bool *priced);

/* What a call sent and what its answers cost (cog__llm_chat_tree): on a
 * failure too, so that what was paid for is charged. */
typedef struct cog__llm_paid {
	unsigned int sent;         /* requests that went to a backend */
	unsigned int answers;      /* answers received (paid for, or cached) */
	uint64_t input_tokens, output_tokens; /* of the answers paid for */
	double cost;
} cog__llm_paid;

/*
 * cog_llm_chat with the request and the answer as trees (lib/llm
 * router_chat.c): `request` is checked once (and normalised in place: it is
 * the caller's to delete, changed), no text in between; *response is the
 * router's answer, to cJSON_Delete. Same errors, events and spans as
 * cog_llm_chat. *paid (may be NULL) is filled on success and failure alike:
 * a failed call may have paid for answers (a structured answer that never
 * matched its schema) or have had a request in flight (an answer cut
 * short, a cancel mid-stream) whose cost is unknown.
 */
int cog__llm_chat_tree(cog_ctx *ctx, cJSON *request, const cog_llm_chat_options *options,
                       cJSON **response, cog__llm_paid *paid);

/* ---- one run of the loop (loop.c and friends) ---- */

typedef struct agent_journal agent_journal;

/* The injection taint of a run (loop_inject.c): 0 while clean, else 1 +
 * the policy (COG__INJECT_*) read when the first flagged content entered
 * it. Shared by a run and its handoffs' sub-runs, both ways: a sub-run
 * starts tainted when its parent is, and taints its parent. Atomic: the
 * calls of one answer run on several threads. */
typedef struct agent_taint {
	atomic_int state;
} agent_taint;

/* What a run gets besides the agent and its task. */
typedef struct agent_env {
	const cog_tool_call_options *tool_options; /* NULL: the host */
	const char *memory_namespace;    /* NULL: none */
	budget_node *budget;             /* the run's leaf; never NULL */
	agent_journal *journal;          /* NULL: not journaled */
	const char *plan_id;             /* "" for a standalone run */
	const char *task_id;             /* "" for a standalone run */
	const char *call_prefix;         /* tool call ids: "<prefix>/<turn>.<n>" */
	cog_span *span;                  /* parent of the turns' spans; NULL: current */
	const cog_task_call *task_call;  /* NULL outside a plan */
	cog_llm_stream_fn on_stream;
	void *stream_ud;
	unsigned int depth;              /* handoff depth, 0 at the top */
	/* A handoff's sub-run: the asking run's environment and agent (its
	 * cancel is the sub-run's too, agent_env_canceled); NULL at the top. */
	const struct agent_env *parent_env;
	const cog_agent *parent_agent;
	/* Handoffs made by this run, appended by handoff.c: the result's
	 * "delegations" array (owned by the run). */
	cJSON *delegations;
	/* The taint the run shares (NULL: agent_run uses one of its own), and
	 * whether the task's prompt is data (a handoff's task, written by the
	 * asking model: scanned like a tool result). */
	agent_taint *taint;
	bool prompt_is_data;
} agent_env;

/*
 * Run the loop on `task` (the agent task object of cog_agent_run) until a
 * final answer the critic accepts, and set *result (the result object,
 * also on most failures: see cog_agent_run). Sets the agent busy, then
 * done or failed.
 */
int agent_run(cog_agent *a, const cJSON *task, agent_env *env, cJSON **result);

/*
 * One LLM call of a run (loop_request.c), for the loop, the critic and
 * handoffs alike: when the journal has the answer for ("llm", turn, index)
 * with this request's hash, that answer (no call, no budget); otherwise
 * reserve the worst case in env->budget (COG_EBUDGET: not made), call
 * cog_llm_chat() with the agent's role and stream hook, canceled by
 * agent_env_canceled(), its timeout the wall time left, settle the
 * reservation with the answer's usage and cost, count it on the agent, and
 * journal the answer (durable) before returning it. request: the LLM
 * request shape (max_tokens set), normalised in place by the router.
 * *response: the router's answer.
 */
int agent_llm_call(cog_agent *a, agent_env *env, const char *role, cJSON *request,
                   unsigned int turn, unsigned int index, cJSON **response);

/* Whether a run must stop: agent_should_stop, the task call canceled, or
 * (a handoff's sub-run) the parent run canceled, up the chain. */
bool agent_env_canceled(const cog_agent *a, const agent_env *env);

/* ---- critic (critic.c) ---- */

/*
 * Check a final result: the task's output_schema (result "content" must
 * parse as JSON matching it; on success *parsed gets it), then the host's
 * critic hook, then, when task "review" is true, an LLM review by the
 * "critic" agent within env's budget. 0: accepted; 1: rejected with
 * *critique (cog_malloc'd) and *code the status the task would fail with
 * (COG_ESCHEMA or COG_EUSER); negative: an error.
 */
int agent_critic_check(cog_agent *a, const cJSON *task, const cJSON *result,
                       agent_env *env, cJSON **parsed, char **critique, int *code);

/* ---- handoff (handoff.c) ---- */

/* The "handoff" tool in the LLM request tool shape, or NULL when the agent
 * may not hand off (or the depth is 3). */
cJSON *agent_handoff_tool(const cog_agent *a, const agent_env *env);
/* Run a handoff the model asked for (arguments {"capability","task"}):
 * 0 with *result (the tool result object for the model: {"agent","content"}
 * or {"error":{...}}). Journaled under (turn, index) like a tool call. */
int agent_handoff_run(cog_agent *a, const cJSON *arguments, agent_env *env,
                      unsigned int turn, unsigned int index, cJSON **result);

#endif /* COG_AGENT_INT_H */
