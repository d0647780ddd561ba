/*
 * libcognition: agents.
 *
 * An agent is an LLM with a role, instructions, a model route, capabilities,
 * the tools it may use and a budget. Definitions live in the context's
 * agent registry; three are there from the start:
 *   "planner"  role planner,  capabilities ["plan"],    no tools
 *   "executor" role executor, capabilities ["general"], every tool ("*")
 *   "critic"   role critic,   capabilities ["review"],  no tools
 * A host replaces one by defining an agent of the same name
 * (cog_agent_define with "replace":true) or adds its own.
 *
 * Definition JSON (only "name" is required):
 *   {"name":"analyst",               1..64 of [A-Za-z0-9_.-]
 *    "role":"executor",              router role of its LLM calls (llm.h
 *                                    routes); default "executor"
 *    "description":"...",            shown to agents that may hand off to it
 *    "instructions":"...",           its system text
 *    "model":"...",                  optional: ask the route for this model
 *    "capabilities":["sql","python"],what it can do (tasks are matched on it)
 *    "tools":["sql_query","python"], globs of the tools it may call ([]: none)
 *    "budget":{"max_tokens":n,"max_cost":x,"max_duration_ms":n},
 *                                    per task it runs; absent: unlimited
 *    "max_turns":8,                  LLM calls per task (default 8, 1..1000)
 *    "max_tokens":1024,              output tokens per LLM call (default 1024)
 *    "temperature":0.2,              default: the model's
 *    "context_tokens":6000,          prompt budget of a turn (default 6000)
 *    "memory_k":6,                   memories retrieved per task (default 6)
 *    "handoff":true,                 may delegate sub-tasks to other agents
 *                                    by capability (default false)
 *    "max_idle":4,                   idle instances its pool keeps (default 4)
 *    "replace":false}                define over an existing definition
 * Unknown members are refused (COG_EINVAL naming them).
 *
 * Instances. cog_agent_spawn() takes an idle instance of a definition from
 * its pool, or makes one; cog_agent_free() gives it back. States (events
 * "agent.state" {"agent_id","name","state","plan_id"?,"task_id"?}): spawned → idle → busy
 * → done | failed → idle ... ; terminated (cog_agent_terminate) is final.
 *
 * The agent loop (cog_agent_run, and cog_task_run_agent for plan tasks):
 *   1. assemble the turn's context within "context_tokens" (memory.h
 *      cog_memory_context: instructions, the task, the results of its
 *      dependencies, memories retrieved for it, working memory);
 *   2. reserve the call's worst case in every budget above it (see Budgets)
 *      and call the LLM through the router with the agent's role;
 *   3. run the tool calls it asked for through the tool layer (schema,
 *      permissions, approvals, sandbox, audit), several in parallel when
 *      it asked for several in one answer, and feed the results back;
 *   4. stop on a final answer, max_turns, the budget, terminate or cancel.
 * Tool results, dependency results and retrieved memories enter the prompt
 * marked as data (between <data> markers with their source), never as
 * instructions. Every LLM answer and tool result is journaled (storage log
 * "agent/<plan id>/<task id>", or "agent/#<BLAKE2b-128 hex of that key>"
 * when the name would pass 128 bytes): a task interrupted by a crash and run again
 * replays them in order instead of asking the LLM or calling the tool
 * again, and tool calls keep their call ids ("<plan>/<task>/<attempt>/<turn>.<n>"),
 * so a pending approval is found again.
 *
 * Budgets are hierarchical: context ▸ plan ▸ task ▸ LLM call. Each has a
 * limit on tokens, money and wall time (any may be unlimited). Before each
 * LLM call the worst case is reserved at every level: the request's input
 * tokens (the backend's count when it has count_tokens, else the UTF-8 bytes
 * of the messages and tool definitions plus 8 per message: an upper bound
 * for byte-level tokenizers) plus its max_tokens, priced at the most
 * expensive model its route may fall back to. A call whose worst case does
 * not fit is not made: the task fails with COG_EBUDGET naming the level and
 * limit, and what it did so far stays in its result. The answer's usage
 * then settles the reservation (a provider that reports more than reserved
 * is charged in full and logged). With a limit on money, a route with an
 * unpriced model is refused (nothing to reserve against).
 *
 * Critic. A final answer is checked before it becomes the task's result:
 * against the task's "output_schema" (the answer must be that JSON), by the
 * host's critic hook (cog_agent_set_critic), and, when the task asks for
 * "review":true, by the "critic" agent (an LLM review). A rejected answer
 * goes back to the agent with the critique, up to "max_revisions" (default
 * 2) times; then the task fails (COG_ESCHEMA for the schema, else
 * COG_EUSER) and the plan's re-planner (cog_plan_set_replanner), if any,
 * is asked for a replacement as for any failed task.
 *
 * Handoff. An agent defined with "handoff":true is offered a tool
 * "handoff" {"capability":"...","task":"..."}: the sub-task runs at once
 * with the agent matched by that capability (not itself; at most 3 levels
 * deep), inside the same task's budget, and its answer comes back as the
 * tool's result. Each handoff is journaled (its sub-run too, under
 * "<run key>/h<turn>.<n>"), sent as event "agent.handoff", and listed in
 * the task's result ("delegations"). Terminating the asking agent
 * terminates the sub-agent.
 *
 * Threads: the registry is thread safe. A cog_agent is used by one thread
 * at a time; cog_agent_terminate() may be called from any thread.
 */
#ifndef COGNITION_AGENT_H
#define COGNITION_AGENT_H

#include "common.h"
#include "ctx.h"
#include "plan.h"
#include "tool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cog_agent cog_agent;

/* Agent states. The numbers are part of the ABI. */
typedef enum cog_agent_state {
	COG_AGENT_SPAWNED = 0,
	COG_AGENT_IDLE = 1,
	COG_AGENT_BUSY = 2,
	COG_AGENT_DONE = 3,        /* its last task succeeded */
	COG_AGENT_FAILED = 4,      /* its last task failed */
	COG_AGENT_TERMINATED = 5   /* stopped by cog_agent_terminate(); final */
} cog_agent_state;

/* "spawned", "idle", ... ; "unknown" for other values. Static text. */
COG_API const char *cog_agent_state_name(int state);

/* ---- definitions ---- */

/*
 * Add a definition (see Definition JSON above) to the context's registry.
 * Errors: COG_EINVAL (bad JSON, member or value: named), COG_EEXISTS (the
 * name is defined and "replace" is not true), COG_ENOMEM. Instances of a
 * replaced definition finish their task with the old one.
 */
COG_API int cog_agent_define(cog_ctx *ctx, const char *definition_json);

/* Remove a definition; its idle instances go, busy ones finish their task.
 * COG_ENOTFOUND if there is no such agent. */
COG_API int cog_agent_remove(cog_ctx *ctx, const char *name);

/* The definitions, in the order defined, as a JSON array of definition
 * objects with every member filled in, to cog_free(). */
COG_API int cog_agent_definitions(cog_ctx *ctx, char **json);

/*
 * The agent for a task needing `capabilities_json` (a JSON array of
 * strings; NULL or [] for none): among the definitions having every one of
 * them, the one with the fewest other capabilities, then the first
 * defined; with none asked, "executor". *name to cog_free().
 * Errors: COG_ENOTFOUND (no definition has them all: the message lists
 * the capabilities), COG_EINVAL.
 */
COG_API int cog_agent_match(cog_ctx *ctx, const char *capabilities_json,
                            char **name);

/* ---- instances ---- */

/*
 * An instance of definition `name`: an idle one from its pool, else a new
 * one (state spawned, then idle). Errors: COG_ENOTFOUND, COG_ENOMEM.
 */
COG_API int cog_agent_spawn(cog_agent **out, cog_ctx *ctx, const char *name);

/* Give an instance back to its pool (it becomes idle), or free it when the
 * pool is full, it was terminated or its definition is gone. NULL-safe. */
COG_API void cog_agent_free(cog_agent *agent);

/* cog_agent_id(): its id (32 hex digits); cog_agent_name(): its
 * definition's name (both borrowed, valid as long as the agent; "" for
 * NULL). cog_agent_get_state(): its current cog_agent_state
 * (COG_AGENT_TERMINATED for NULL). */
COG_API const char *cog_agent_id(const cog_agent *agent);
COG_API const char *cog_agent_name(const cog_agent *agent);
COG_API int cog_agent_get_state(const cog_agent *agent);

/*
 * Stop instance `agent_id`: the instance is terminated and its running
 * loop ends with COG_ECANCELED. The LLM call in flight is canceled; tool
 * calls in flight run to their end (or until cog_ctx_cancel()), and no new
 * step (tool call, LLM call, turn) starts. A handoff sub-run it waits for
 * is terminated with it. Any thread. Errors: COG_ENOTFOUND.
 */
COG_API int cog_agent_terminate(cog_ctx *ctx, const char *agent_id);

/* The live instances as JSON, to cog_free():
 * [{"id","name","role","state","plan"?,"task"?,"turns","input_tokens",
 *   "output_tokens","cost"}] */
COG_API int cog_agent_list(cog_ctx *ctx, char **json);

/* ---- running ---- */

typedef struct cog_agent_run_options {
	unsigned int version;
	/* Principal, workspace and network grant of the tool calls (the agent
	 * name and allow-list are the agent's). NULL: the host, no workspace
	 * beyond the registry's default, no network. */
	const cog_tool_call_options *tool_options;
	/* Memory namespace for retrieval and working memory; NULL: none. */
	const char *memory_namespace;
	/* Journal key "<plan>/<task>" of a standalone run (cog_agent_run),
	 * NULL: not journaled. cog_task_run_agent() uses the task's. */
	const char *run_key;
	/* This run's own budget, JSON as the plan's; NULL: only the levels
	 * above (the agent's definition, the plan's, the context's). */
	const char *budget_json;
	/* Streamed text and tool-call pieces of the LLM calls (llm.h format),
	 * besides the events; NULL: none. */
	int (*on_stream)(const char *event_json, size_t len, void *user_data);
	void *stream_user_data;
} cog_agent_run_options;

#define COG_AGENT_RUN_OPTIONS_VERSION 1
#define COG_AGENT_RUN_OPTIONS_INIT { COG_AGENT_RUN_OPTIONS_VERSION, NULL, NULL, \
	NULL, NULL, NULL, NULL }

/* Set `options` to the defaults of `version`. COG_EVERSION if unknown. */
COG_API int cog_agent_run_options_init(cog_agent_run_options *options,
                                       unsigned int version);

/*
 * Run the agent loop on one task. task_json:
 *   {"prompt":"...",                          required
 *    "dependencies":[{"task":"id","result":<JSON>}],
 *    "context_files":["work/stats.json"],     read with the file_read tool
 *    "output_schema":{...},                   the answer must be this JSON
 *    "review":false, "max_revisions":2, "max_turns":n}
 * *result_json (to cog_free()), also on most failures:
 *   {"content":"final text"|null,"parsed":<JSON>?,"agent":"name",
 *    "agent_id":"..","turns":n,"tool_calls":n,"usage":{"input_tokens":n,
 *    "output_tokens":n},"cost":x,"revisions":n,"critiques":[".."],
 *    "delegations":[{"agent","capability","task","content"}],
 *    "stopped":"answer"|"max_turns"|"budget"|"canceled"|"pending"|"error"}
 * Errors: COG_EINVAL (bad task), COG_EUNAVAILABLE (no LLM endpoint),
 * COG_EBUDGET, COG_ECANCELED (cog_ctx_cancel or cog_agent_terminate),
 * COG_ERANGE (max_turns reached without an answer),
 * COG_ESCHEMA / COG_EUSER (rejected past max_revisions), COG_EPENDING (a
 * tool call waits for approval: run it again once decided), the router's
 * errors (llm.h), COG_EIO (journal).
 */
COG_API int cog_agent_run(cog_agent *agent, const char *task_json,
                          const cog_agent_run_options *options,
                          char **result_json);

/*
 * A task executor (plan.h) for plans with agents: tasks of kind "tool" go
 * to cog_task_run_tool(); tasks of kind "llm" run the agent loop, with
 * their "inputs" as the agent task above ("prompt", "context_files",
 * "output_schema", "review", "max_revisions", "max_turns", plus "agent":
 * a definition name, else the agent matched by the task's "capabilities",
 * and "budget": the task's own limits), the results of its dependencies,
 * the plan's budget and the context's. Other kinds fail with COG_EINVAL.
 * A failing "llm" task sets its result all the same (the result object
 * above: what it did so far, "stopped" saying why; plan.h
 * cog_task_call_set_result), except when it waits (COG_EPENDING).
 * `user_data` is NULL or a `const cog_agent_run_options *`. Pass it to
 * cog_ctx_set_task_executor(), or call it from a host executor.
 */
COG_API int cog_task_run_agent(cog_task_call *call, void *user_data);

/* ---- budgets ---- */

/*
 * The context's budget (the top level), JSON as the plan's:
 * {"max_tokens":n,"max_cost":x,"max_duration_ms":n}; absent or 0 members
 * are unlimited; wall time counts from this call. Spending so far is kept.
 * Errors: COG_EINVAL.
 */
COG_API int cog_ctx_set_budget(cog_ctx *ctx, const char *budget_json);

/*
 * What was spent, as JSON, to cog_free(): with plan_id NULL the whole
 * context,
 *   {"limit":{..},"spent":{"input_tokens","output_tokens","tokens","cost",
 *    "llm_calls"},"reserved":{"tokens","cost"},"refused":n,
 *    "plans":{"<id>":{"limit","spent","refused","tasks":{"<task>":{...}}}},
 *    "agents":{"<name>":{"spent":{..}}}}
 * else that plan's object. A standalone cog_agent_run() is listed under
 * "plans" by its run key (or a fresh id). Errors: COG_ENOTFOUND (no spending recorded for
 * that plan in this context), COG_EINVAL.
 */
COG_API int cog_budget_report(cog_ctx *ctx, const char *plan_id, char **json);

/* ---- the critic ---- */

/*
 * The host's rules for task results. Return 0 to accept, 1 to reject with
 * *critique set (cog_malloc'd text for the agent), or a negative status
 * (the task fails with it). task_json is the agent task, result_json the
 * proposed result object. Called on the thread running the agent.
 */
typedef int (*cog_critic_fn)(const char *task_json, const char *result_json,
                             char **critique, void *user_data);

/* Install (or with NULL remove) the context's critic hook. */
COG_API int cog_agent_set_critic(cog_ctx *ctx, cog_critic_fn fn, void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* COGNITION_AGENT_H */
